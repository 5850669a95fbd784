"""`daisee-collective`: what a PMO's operator runs each period.

    daisee-collective dataset --month 2025-07 --out month/       # a real-data month to try things on
    daisee-collective check FILE... [--json report.json]         # conformity per meter and local day
    daisee-collective allocate --production F --consumption F [--key ...] --out DIR
    daisee-collective bill --production F --consumption F --contracts contracts.yaml --out DIR [--previous DIR]
    daisee-collective commit --production F --consumption F --contracts C --bill DIR --salts S --out DIR --account A
    daisee-collective settle DIR --account A                      # collect debits, pay credits in tokens
    daisee-collective verify REFERENCE.json [--statement FILE]     # a member checks its statement on chain
    daisee-collective forecast --production F --consumption F [--evaluate] --out DIR   # day-ahead, advisory

Files are the grid operator's load-curve exports or our wide CSV (collective.io), told apart by header.
"""
from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from collective.curves import Curves
from daisee.chain import ContractRevert
from daisee.cli import chain_options, signer_options


def write_wide_csv(curves: Curves, path: Path, tz: str = "Europe/Paris") -> Path:
    """Our own simple format: `timestamp` (ISO 8601 with the local offset, end of interval) then one
    column per meter, energy per interval in kWh (what `collective.io` reads back)."""
    frame = curves.frame()
    frame.index = frame.index.tz_convert(tz).map(lambda t: t.isoformat())
    frame.index.name = "timestamp"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, float_format="%.6f")
    return path


class _Group(click.Group):
    """Bad input (a file's row, a key over 100 % at some step, an unknown meter) ends in one clear
    line naming it and exit status 1, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ValueError, KeyError, FileNotFoundError, PermissionError) as exc:  # inputs, settings, keys
            raise click.ClickException(str(exc).strip("'\"")) from exc
        except ContractRevert as exc:
            raise click.ClickException(f"the contract refused: {exc}") from exc


@click.group(cls=_Group)
def main():
    """Collective self-consumption: conformity, allocation, billing, commitment and settlement."""


@main.command()
@click.option("--month", default="2025-07", show_default=True, help="local calendar month, YYYY-MM")
@click.option("--consumers", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--producers", default=2, show_default=True, type=click.IntRange(1, 1_000))
@click.option("--step", type=click.Choice(["15min", "30min"]), default="30min", show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--months", default=1, show_default=True, type=click.IntRange(1, 36),
              help="this many months from --month (history for `forecast`)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("collective-month"),
              show_default=True)
def dataset(month, consumers, producers, step, seed, months, out):
    """Write a month of a community built from real data (see collective.dataset) as two wide CSVs."""
    from collective.dataset import community

    first = pd.Timestamp(month)
    m = community(first, first + pd.offsets.MonthBegin(months), consumers=consumers, producers=producers,
                  step=step, seed=seed)
    for name, curves in (("production", m.production), ("consumption", m.consumption)):
        path = write_wide_csv(curves, out / f"{name}.csv")
        click.echo(f"{path}: {len(curves.meters)} meters x {len(curves.index)} intervals, "
                   f"{sum(curves.totals().values()):,.1f} kWh")
    import yaml

    from collective.dataset import sample_contracts

    (out / "contracts.yaml").write_text(yaml.safe_dump(sample_contracts(m, seed), sort_keys=False))
    click.echo(f"{out / 'contracts.yaml'}: sample contracts for `daisee-collective bill`")


def read_files(paths):
    """Long readings from grid-operator load-curve exports and our wide CSVs, told apart by their header."""
    from collective.io import concat, read_enedis, read_wide

    frames = []
    for path in paths:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            header = f.readline()
        frames.append(read_wide(path) if header.lower().startswith("timestamp,") else read_enedis(path))
    return concat(frames)


def checked(paths, step: str, tz: str, report: Path | None, all_days: bool = False):
    """`check` over `paths`, its report printed (and written as JSON): the report, clean curves included."""
    from collective.check import CheckSettings, check

    result = check(read_files(paths), CheckSettings(step=pd.Timedelta(step), timezone=tz))
    click.echo(result.table(all_days=all_days))
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(result.to_json(indent=1))
        click.echo(f"report: {report}")
    return result


step_option = click.option("--step", type=click.Choice(["15min", "30min"]), default="30min", show_default=True,
                           help="the interval of the community's allocation")
tz_option = click.option("--tz", default="Europe/Paris", show_default=True, help="the community's civil time")


@main.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@step_option
@tz_option
@click.option("--json", "report", type=click.Path(dir_okay=False, path_type=Path), help="write the report here")
@click.option("--all-days", is_flag=True, help="list every meter-day, not only those with something to say")
def check_command(files, step, tz, report, all_days):
    """Conformity of load curves, per meter and local day (exit 2 when a day is NOT_BILLABLE)."""
    if not checked(files, step, tz, report, all_days).billable:
        raise SystemExit(2)


KEYS = ("default", "static", "multi-round", "dynamic-simple", "full-dynamic", "priority")


def make_key(name: str, shares: Path | None, max_rounds: int | None, step: str):
    """The allocation key `name`; `shares` is a JSON file ({meter: share}, or a list of such levels for
    priority, or {producer: wide CSV of fractions} for full dynamic) or, for dynamic simple, a wide CSV."""
    import json

    from collective import allocate as a
    from collective.check import CheckSettings, check
    from collective.io import read_wide

    if name == "default":
        return a.DefaultDynamic()
    if shares is None:
        raise click.UsageError(f"--key {name} needs --shares")

    def fractions(path):  # shares per step, as Curves: checked like energy, then taken as fractions
        return check(read_wide(path), CheckSettings(step=pd.Timedelta(step))).curves

    if name == "dynamic-simple":
        return a.DynamicSimple(fractions(shares))
    spec = json.loads(shares.read_text())
    if name == "static":
        return a.Static(spec, max_rounds=1)
    if name == "multi-round":
        return a.Static(spec, max_rounds=max_rounds)
    if name == "priority":
        return a.Priority([dict(level) for level in spec])
    return a.FullDynamic({producer: fractions(shares.parent / path) for producer, path in spec.items()})


def allocation_options(command):
    """The inputs and key of an allocation, shared by `allocate` and `bill`."""
    options = [
        click.option("--production", "production_files", multiple=True, required=True,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path), help="producers' curves (repeatable)"),
        click.option("--consumption", "consumption_files", multiple=True, required=True,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path), help="consumers' curves (repeatable)"),
        click.option("--key", type=click.Choice(KEYS), default="default", show_default=True),
        click.option("--shares", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="the key's shares (JSON, or a wide CSV of fractions for dynamic-simple)"),
        click.option("--max-rounds", type=click.IntRange(1, None), default=None,
                     help="multi-round: rounds (default unlimited)"),
        step_option, tz_option]
    for option in reversed(options):
        command = option(command)
    return command


def allocated(production_files, consumption_files, key, shares, max_rounds, step, tz, out: Path):
    """Check both sides (reports written to `out`), then allocate with the key: the `Allocation`."""
    from collective.allocate import allocate

    production = checked(production_files, step, tz, out / "production-check.json").curves
    consumption = checked(consumption_files, step, tz, out / "consumption-check.json").curves
    return allocate(production, consumption, make_key(key, shares, max_rounds, step))


@main.command("allocate")
@allocation_options
@click.option("--precision", default=0.01, show_default=True, help="key file precision, in percent")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("allocation"), show_default=True)
def allocate_command(production_files, consumption_files, key, shares, max_rounds, step, tz, precision, out):
    """Share local production among consumers per step; write the allocation, totals and key file."""
    result = allocated(production_files, consumption_files, key, shares, max_rounds, step, tz, out)
    write_allocation(result, out, precision, tz)


@main.command("bill")
@allocation_options
@click.option("--contracts", "contracts_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="members' contracts and prices (YAML; `dataset` writes a sample)")
@click.option("--tariffs", "tariffs_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="the community's own rate table (CSV rows replacing the default rows of the same names)")
@click.option("--period", help="local month YYYY-MM (default: the one the curves cover)")
@click.option("--version", type=click.IntRange(1, None), help="default 1, or the previous version + 1")
@click.option("--previous", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="the directory of the version this one corrects (regularisation)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="a new directory for this version (nothing is overwritten)")
def bill_command(production_files, consumption_files, key, shares, max_rounds, step, tz, contracts_file, tariffs_file,
                 period, version, previous, out):
    """Bill one period: statements/<member>.json, .html and .pdf (the PMO's too) and bill.csv in --out."""
    from collective.bill import Bill, bill, load_contracts
    from collective.statement import chart_data, write_statements
    from collective.tariffs import Tariffs

    contracts = load_contracts(contracts_file)
    tariffs = Tariffs.load(tariffs_file)
    before = Bill.read(previous) if previous is not None else None
    if (out / "statements").exists() or (out / "bill.csv").exists():
        raise click.ClickException(f"{out} already holds a bill: write each version to its own directory")
    result = allocated(production_files, consumption_files, key, shares, max_rounds, step, tz, out / "check")
    billed = bill(result, contracts, tariffs, period, version=version, previous=before)
    billed.write(out)
    write_statements(billed.statements, chart_data(result, contracts), out / "statements")
    click.echo(billed.summary().drop(columns="digest").to_string())
    settlement = billed.settlement()
    click.echo(f"written: {out}/statements/<party>.json|html|pdf ({len(billed.statements)} parties), {out}/bill.csv; "
               f"period {billed.period} version {billed.version}; local energy in tokens: "
               f"{sum(d for d, _ in settlement.values()) / 100:,.2f} debited = "
               f"{sum(c for _, c in settlement.values()) / 100:,.2f} credited")


def write_allocation(result, out: Path, precision: float, tz: str) -> None:
    """The allocation per step and member, the period totals and the grid operator's key file."""
    from collective.allocate import key_file

    out.mkdir(parents=True, exist_ok=True)
    keys = key_file(result, precision=precision)
    keys.write(out / "keys.csv", tz=tz)

    def frame(values, columns):
        return pd.DataFrame(values, index=result.index, columns=list(columns))

    # per step: each consumer's local energy and complement, each producer's surplus, and the energy
    # the floored keys leave unkeyed (what the grid operator then counts as surplus)
    per_step = pd.concat({"local_kwh": frame(result.autocons, result.consumers),
                          "complement_kwh": frame(result.complement, result.consumers),
                          "surplus_kwh": frame(result.surplus, result.producers),
                          "keys": frame(keys.remainder_kwh[:, None], ["unkeyed_kwh"])}, axis=1)
    per_step.index = per_step.index.tz_convert(tz).map(lambda t: t.isoformat())
    per_step.index.name = "timestamp"
    per_step.to_csv(out / "allocation.csv", float_format="%.6f")
    totals = result.consumer_totals()
    totals.to_csv(out / "consumers.csv", float_format="%.6f")
    result.producer_totals().to_csv(out / "producers.csv", float_format="%.6f")
    click.echo(totals.to_string(float_format=lambda v: f"{v:,.3f}"))
    click.echo(f"written: {out}/allocation.csv, consumers.csv, producers.csv, keys.csv (keys floored at "
               f"{precision} %; {float(keys.remainder_kwh.sum()):,.3f} kWh of production unkeyed: surplus and rounding)")


# -- on chain: commit, settle, verify ------------------------------------------------------------------

def open_community(rpc_url: str, deployment: Path):
    from daisee.chain import Community
    from daisee.config import ChainSettings

    community = Community.open(ChainSettings(rpc_url=rpc_url, deployment=deployment))
    if not community.w3.is_connected():
        raise click.ClickException(f"no node answers at {rpc_url}")
    return community


def rules_in_force(community, period: str) -> int:
    """The version of the community's rules in force in `period` (YYYY-MM), read from CommunityRules."""
    from governance.rules import in_force

    if "CommunityRules" not in community.deployment.contracts:
        raise click.ClickException("this deployment has no CommunityRules: give --rules-version")
    year, month = period.split("-")
    try:
        return in_force(community.contract("CommunityRules"), int(year) * 100 + int(month))[1]
    except ValueError as exc:
        raise click.ClickException(f"{exc}; give --rules-version for a period before the rules") from None


@main.command("commit")
@allocation_options
@click.option("--contracts", "contracts_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bill", "bill_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="the version's bill (written by `bill`)")
@click.option("--salts", "salts_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="the members' secrets for the period (private; created if absent)")
@click.option("--rules-version", type=click.IntRange(1, 2**32 - 1),
              help="the rules version applied (default: the one CommunityRules holds in force for the period)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@chain_options
@signer_options
def commit_command(production_files, consumption_files, key, shares, max_rounds, step, tz, contracts_file, bill_dir,
                   salts_file, rules_version, out, rpc_url, deployment, alias, passphrase_file):
    """Commit a billed period on chain: its roots in the PeriodLedger, then roots.json, the trees' hashes,
    each member's reference file and its statement re-rendered with its proof in --out."""
    from collective import commit as c
    from collective.bill import Bill, load_contracts
    from collective.ledger import commit_period
    from collective.statement import chart_data, write_statements
    from daisee.chain import Transactor
    from daisee.keys import load_signer

    contracts, billed = load_contracts(contracts_file), Bill.read(bill_dir)
    allocation = allocated(production_files, consumption_files, key, shares, max_rounds, step, tz, out / "check")
    community = open_community(rpc_url, deployment)
    units_per_cent = 10 ** (community.token.functions.decimals().call() - 2)
    rules_version = rules_version or rules_in_force(community, billed.period)
    commitment = c.of_bill(billed, allocation, contracts, c.Salts(salts_file), units_per_cent, rules_version)
    receipt = commit_period(community, Transactor(community, load_signer(alias, passphrase_file)), commitment)
    ledger = community.deployment.address_of("PeriodLedger")
    commitment.write(out, community.deployment.chain_id, ledger)
    references = {e.member: commitment.reference(e.member, community.deployment.chain_id, ledger)
                  for e in commitment.entries}
    write_statements(billed.statements, chart_data(allocation, contracts), out / "statements", references)
    click.echo(f"period {commitment.period} version {commitment.version} committed in block "
               f"{receipt['blockNumber']} ({receipt['gasUsed']:,} gas)")
    for name, root in commitment.roots.items():
        click.echo(f"  {name:<10} root 0x{root.hex()}  ({len(commitment.trees[name]):,} leaves)")
    click.echo(f"  settlement {commitment.settlement_total / units_per_cent / 100:,.2f} tokens; references and "
               f"statements with their proofs in {out}")


@main.command("settle")
@click.argument("commitment_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@chain_options
@signer_options
def settle_command(commitment_dir, rpc_url, deployment, alias, passphrase_file):
    """Settle a committed period's local energy in tokens: collect each debit (members' allowances to the
    CollectiveSettlement contract), pay each credit; anyone may run it."""
    from collective.commit import read_references
    from collective.ledger import pot, settle
    from daisee.chain import Transactor
    from daisee.keys import load_signer

    period, version, items = read_references(commitment_dir)
    community = open_community(rpc_url, deployment)
    report = settle(community, Transactor(community, load_signer(alias, passphrase_file)), period, version, items)
    collected, paid = pot(community, period, version)
    click.echo(f"period {period} version {version}: {len(report.collected)} debits collected, "
               f"{len(report.paid)} credits paid; {collected:,} collected, {paid:,} paid (token base units)")
    for failure in report.failed:
        click.echo(f"  not collected: {failure} (no allowance or balance; run settle again later)")
    for member in report.unpaid:
        click.echo(f"  nothing more to pay yet: {member}")


@main.command("verify")
@click.argument("reference_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--statement", "statement_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="the member's statement (JSON) to check against the reference")
@chain_options
def verify_command(reference_file, statement_file, rpc_url, deployment):
    """Check one member's statement against the chain: exit 0 if the ledger holds it, 1 otherwise."""
    import json

    from collective.ledger import verify_reference

    try:
        reference = json.loads(reference_file.read_text())
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{reference_file}: not a reference file ({exc})") from None
    statement = statement_file.read_text(encoding="utf-8") if statement_file else None
    result = verify_reference(open_community(rpc_url, deployment), reference, statement)
    if not result.ok:
        raise click.ClickException(f"NOT verified: {result.reason}")
    click.echo(f"verified: {result.reason}")


@main.command("forecast")
@click.option("--production", "production_files", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="producers' history (repeatable)")
@click.option("--consumption", "consumption_files", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="consumers' history (repeatable)")
@click.option("--day", help="local day to forecast, YYYY-MM-DD (default: the day after the history); "
                            "only the history before it is used")
@click.option("--method", type=click.Choice(["learned", "persistence", "smart-persistence", "climatology",
                                             "seasonal-naive"]), default="learned", show_default=True,
              help="smart-persistence (PV only) and seasonal-naive (load only) use persistence for the other")
@click.option("--latitude", default=48.85, show_default=True, type=click.FloatRange(-90, 90), help="PV site")
@click.option("--longitude", default=2.35, show_default=True, type=click.FloatRange(-180, 180), help="PV site")
@click.option("--weather", help="optional typical-year weather (TMY3/TMY2 path, or a pvlib data file name "
                                "such as 723170TYA.CSV)")
@click.option("--evaluate", "evaluate_days", type=click.IntRange(1, 366), default=None, is_flag=False,
              flag_value=14, help="also score every method day-ahead over the last N days of history (flag alone: 14)")
@click.option("--cheap-hours", default=4.0, show_default=True, type=click.FloatRange(0.25, 24))
@click.option("--precision", default=0.01, show_default=True, help="key file precision, in percent")
@step_option
@tz_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("forecast"), show_default=True)
def forecast_command(production_files, consumption_files, day, method, latitude, longitude, weather, evaluate_days,
                     cheap_hours, precision, step, tz, out):
    """Day-ahead forecast of each producer's PV and the community's consumption (advisory, never billed):
    keys.csv (suggested dynamic-simple keys), forecast.csv, forecast.json (for the viewer)."""
    import json

    from collective import forecast as fc
    from collective.forecast_data import typical_weather

    if day is not None:
        try:
            day = str(pd.Timestamp(day).date())
        except ValueError as exc:
            raise click.BadParameter(f"not a date: {day!r}", param_hint="--day") from exc
    site = fc.Site(latitude, longitude, tz)
    meteo = typical_weather(weather, tz) if weather else None
    production = checked(production_files, step, tz, out / "production-check.json").curves
    consumption = checked(consumption_files, step, tz, out / "consumption-check.json").curves
    name = method.replace("-", "_")
    skill = {}
    if evaluate_days:
        table = fc.evaluate_community(production, consumption, site, days=evaluate_days, weather=meteo)
        for what, scores in table.items():
            click.echo(f"\n{what}: rolling-origin day-ahead over the last {evaluate_days} days "
                       f"({scores.attrs['n']} intervals)")
            click.echo(scores.to_string(float_format=lambda v: f"{v:,.3f}"))
            ref = {"pv": {"seasonal_naive": "persistence"}, "load": {"smart_persistence": "persistence"}}[what]
            row = ref.get(name, name)
            skill[what] = float(scores.loc[row, f"skill_vs_{fc.REFERENCE[what]}"]) if row in scores.index else None
    result = fc.day_ahead(production, consumption, site, day=day, method=name, weather=meteo)
    out.mkdir(parents=True, exist_ok=True)
    fc.suggested_keys(result, precision).write(out / "keys.csv", tz=tz)
    document = fc.forecast_json(result, skill, cheap_hours)
    (out / "forecast.json").write_text(json.dumps(document, indent=1))
    per_step = pd.concat({"pv_kwh": pd.DataFrame(result.pv[:, 1, :].T, columns=list(result.producers)),
                          "community": pd.DataFrame({"pv_p10": result.pv_total[0], "pv_kwh": result.pv_total[1],
                                                     "pv_p90": result.pv_total[2], "load_p10": result.load[0],
                                                     "load_kwh": result.load[1], "load_p90": result.load[2]})},
                         axis=1)
    per_step.index = result.index.tz_convert(tz).map(lambda t: t.isoformat())
    per_step.index.name = "timestamp"
    per_step.to_csv(out / "forecast.csv", float_format="%.6f")
    click.echo(f"\n{result.day} ({name}): PV {result.pv_total[1].sum():,.1f} kWh "
               f"[p10 {result.pv_total[0].sum():,.1f}, p90 {result.pv_total[2].sum():,.1f}], "
               f"load {result.load[1].sum():,.1f} kWh [{result.load[0].sum():,.1f}, {result.load[2].sum():,.1f}]")
    for run in document["cheap_local_hours"]:
        start, end = (pd.Timestamp(run[k]).tz_convert(tz).strftime("%H:%M") for k in ("start", "end"))
        click.echo(f"cheap local hours {start}-{end}: {100 * run['local_share']:.0f} % local")
    click.echo(f"written: {out}/forecast.json, forecast.csv, keys.csv (advisory: forecasts never enter billing)")
