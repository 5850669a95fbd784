"""The simulated community's readings through the collective self-consumption pipeline, as a PMO
would run it on any real community: the exchange's MeterReading events → conformity → allocation
with the chosen key → bill → commitment on chain → settlement in tokens → one member's statement
verified against the chain (collective/), all written to the run directory."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from eth_account.signers.local import LocalAccount

from collective.allocate import Allocation, DefaultDynamic, Static, allocate, key_file, net_behind_the_meter
from collective.check import CheckReport, CheckSettings, check
from collective.curves import Curves
from collective.io import read_meter_readings
from collective.bill import Contracts, bill, local_starts
from collective.commit import Salts, of_bill
from collective.ledger import commit_period, pot, settle, verify_reference
from collective.statement import chart_data, write_statements
from collective.tariffs import Tariffs
from daisee.chain import Community, EventReader, Transactor, permit_signature
from governance.rules import in_force
from simulation.community import Member


def allocate_run(community: Community, members: list[Member], step_s: int, out: Path,
                 key: str = "default") -> tuple[dict[str, dict], Allocation]:
    """Per member address: {"own_use_wh", "local_wh", "complement_wh"} over the run, its own
    production netted behind the meter first, and the allocation. `key`: "default" (dynamic), "static"
    or "multi-round" (equal shares). Writes the conformity report and the grid operator's key file into `out`."""
    reader = EventReader(community, ["MeterReading"])
    events = reader.fetch(community.deployment.deployed_block, community.w3.eth.block_number)
    step = pd.Timedelta(seconds=step_s)
    readings = read_meter_readings(events, step)
    out.mkdir(parents=True, exist_ok=True)
    # The run covers parts of days: its report shows those days' missing intervals as gaps, honestly.
    report = check(readings, CheckSettings(step=step))
    (out / "conformity.json").write_text(report.to_json(indent=1))

    production, consumption = run_curves(readings, report)
    sites = {m: m.replace(":production", ":consumption") for m in production.meters
             if m.replace(":production", ":consumption") in consumption.meters}
    netted = net_behind_the_meter(production, consumption, sites)
    result = allocate(netted.production, netted.consumption, _key(key, netted.consumption.meters))
    key_file(result).write(out / "keys.csv")

    owner = {m.meter_id: m.plan.address for m in members}
    totals = result.consumer_totals()
    own_use = dict(zip(netted.own_use.meters, netted.own_use.kwh.sum(axis=0)))
    shares = {}
    for meter, row in totals.iterrows():
        meter_id = int(meter.split(":")[0])
        shares[owner[meter_id]] = {
            "own_use_wh": round(1000 * own_use.get(meter.replace(":consumption", ":production"), 0.0)),
            "local_wh": round(1000 * row["autocons"]),
            "complement_wh": round(1000 * row["complement"]),
        }
    return shares, result


def allocation_steps(allocation: Allocation, members: list[Member]) -> list[tuple[str, int, int, int]]:
    """The allocation per step and member, for the viewer (`Store.set_allocation_steps`): (owner address,
    step end as a Unix timestamp, local Wh, complement Wh), consumers named "<meter id>:consumption"."""
    owner = {m.meter_id: m.plan.address for m in members}
    addresses = np.array([owner[int(c.split(":")[0])] for c in allocation.consumers], dtype=object)
    ends = np.asarray((allocation.index - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1), dtype=np.int64)
    local = np.rint(1000 * allocation.autocons).astype(np.int64)
    complement = np.rint(1000 * allocation.complement).astype(np.int64)
    steps, consumers = local.shape
    return list(zip(np.tile(addresses, steps).tolist(), np.repeat(ends, consumers).tolist(),
                    local.ravel().tolist(), complement.ravel().tolist()))


def _key(name: str, consumers: tuple[str, ...]):
    if name == "default":
        return DefaultDynamic()
    equal = {c: 1 / len(consumers) for c in consumers}
    return Static(equal, max_rounds=1 if name == "static" else None)


def run_curves(readings: pd.DataFrame, report: CheckReport) -> tuple[Curves, Curves]:
    """Production and consumption over the run (the intervals any meter's readings cover), with
    `check`'s clean values: a reading it flagged as an error is out, and filled where it could be. A
    value still missing counts as 0, as an absent member's does, so one meter's outage or late start
    never stops or shortens the others' allocation; the report names those intervals."""
    frame = report.curves.frame()
    frame = frame.loc[(frame.index >= readings["end"].min()) & (frame.index <= readings["end"].max())].fillna(0.0)
    full = Curves.from_frame(frame, report.curves.step)
    return (full.select([m for m in full.meters if m.endswith(":production")]),
            full.select([m for m in full.meters if m.endswith(":consumption")]))


# -- the period: bill, commit, settle, verify ----------------------------------------------------------

PMO_FEE_BPS = 200
SIMULATION_RATES = "simulation: the rates in force at the table's end, carried forward"


def demo_contracts(members: list[Member], allocation: Allocation, pmo: str) -> Contracts:
    """Contracts for the simulated members: households on TURPE C5 (every other one on the
    self-consumption option), producers selling locally at their offer price (token = euro)."""
    consumes = {m.split(":")[0] for m in allocation.consumers}
    produces = {m.split(":")[0] for m in allocation.producers}
    supplier = {"name": "supplier", "subscription_eur_month": "4.50", "prices": {"hp": "0.1420", "hc": "0.1080"}}
    contracts = {}
    for m in members:
        mid = str(m.meter_id)
        if mid not in consumes and mid not in produces:
            continue
        role = "prosumer" if mid in consumes and mid in produces else "producer" if mid in produces else "consumer"
        c = {"role": role, "account": m.plan.address, "consumption_meter": f"{mid}:consumption",
             "production_meter": f"{mid}:production"}
        if role != "producer":
            c.update(kva=6, fta="BTINFCU4", tariff_option="acc" if m.meter_id % 2 else "standard", supplier=supplier)
        if role != "consumer":
            c.update(local_price=f"{Decimal(m.plan.price_per_wh) * 1000 / 10**18:.4f}", feed_in_price="0.0400")
        contracts[mid] = c
    return Contracts.model_validate({"pmo": "pmo", "pmo_fee_bps": PMO_FEE_BPS, "pmo_account": pmo,
                                     "members": contracts})


def period_run(community: Community, operator: LocalAccount, members: list[Member], allocation: Allocation,
               out: Path) -> dict:
    """Bill the run's period, commit it on chain, settle its local energy (each debtor's permit relayed
    by the operator) and verify one member's statement against the chain; the summary of it all."""
    contracts = demo_contracts(members, allocation, operator.address)
    starts = local_starts(allocation.index, allocation.step, contracts.timezone)
    tariffs = Tariffs.load().carried_forward(starts.max().date(), SIMULATION_RATES)
    billed = bill(allocation, contracts, tariffs)
    billed.write(out / "bill")
    charts = chart_data(allocation, contracts)
    write_statements(billed.statements, charts, out / "bill" / "statements")

    units_per_cent = 10 ** (community.token.functions.decimals().call() - 2)
    period = int(billed.period.replace("-", ""))
    _, rules_version, _ = in_force(community.contract("CommunityRules"), period)
    commitment = of_bill(billed, allocation, contracts, Salts(out / "salts.json"), units_per_cent, rules_version)
    operator_tx = Transactor(community, operator, receipt_timeout=120)
    receipt = commit_period(community, operator_tx, commitment)
    ledger = community.deployment.address_of("PeriodLedger")
    chain_id = community.deployment.chain_id
    commitment.write(out / "commitment", chain_id, ledger)
    references = {e.member: commitment.reference(e.member, chain_id, ledger) for e in commitment.entries}
    write_statements(billed.statements, charts, out / "commitment" / "statements", references)

    keys = {m.plan.address: m.plan.account for m in members}
    token = community.token
    name = token.functions.name().call()

    def permit(entry, spender):  # each member signs its own permit; the operator relays it
        owner = keys.get(entry.account)
        if owner is None:
            return None
        deadline = community.w3.eth.get_block("latest")["timestamp"] + 3_600
        nonce = token.functions.nonces(owner.address).call()
        return (deadline, *permit_signature(owner, name, token.address, chain_id, spender, entry.debit, nonce, deadline))

    report = settle(community, operator_tx, commitment.period, commitment.version, commitment.settlement_items(), permit)
    collected, paid = pot(community, commitment.period, commitment.version)
    verified_member = next((e.member for e in commitment.entries if e.debit), commitment.entries[0].member)
    statement_file = out / "bill" / "statements" / f"{verified_member}.json"
    verification = verify_reference(community, references[verified_member], statement_file.read_text(encoding="utf-8"))
    return {
        "period": commitment.period, "version": commitment.version, "rules_version": rules_version,
        "statements": len(billed.statements),
        "statements_dir": str(out / "commitment" / "statements"), "commit_block": receipt["blockNumber"],
        "roots": {k: "0x" + v.hex() for k, v in commitment.roots.items()},
        "settlement_total": commitment.settlement_total, "collected": collected, "paid": paid,
        "not_collected": report.failed, "verified_member": verified_member, "verified": verification.ok,
        "verification": verification.reason,
    }


def forecast_run(out: Path, households: int = 40, producers: int = 2) -> dict:
    """Tomorrow's forecast as the PMO would run it every evening, on a real-data community with two months
    of history (pvanalytics' PV, demandlib's households: collective.dataset), written where the viewer
    reads it (`forecast.json`) with the suggested keys; a summary for the demo. Advisory: never billed."""
    from collective import forecast as fc
    from collective.dataset import community

    history = community("2025-05-01", "2025-07-01", households, producers)
    result = fc.day_ahead(history.production, history.consumption, fc.Site(48.85, 2.35))  # Paris
    out.mkdir(parents=True, exist_ok=True)
    fc.suggested_keys(result).write(out / "keys.csv")
    document = fc.forecast_json(result)
    (out / "forecast.json").write_text(json.dumps(document, indent=1))
    return {"day": document["day"], "members": households, "producers": producers, "path": str(out / "forecast.json"),
            "pv_kwh": float(result.pv_total[1].sum()), "load_kwh": float(result.load[1].sum()),
            "cheap": ", ".join(f"{h['start'][11:16]}–{h['end'][11:16]} UTC" for h in document["cheap_local_hours"])}
