"""What happened, as the viewer knows it: the run's events indexed into the viewer's store (already
done when the viewer served the run), the store's member summaries as the demo's table, and one
check against the chain itself: the exchange holds exactly what it owes (the open purchases' escrow,
the members' balances and the accrued fees)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from daisee.chain import Community, read_many
from simulation.community import Member
from viewer.indexer import Indexer
from viewer.store import Store

TOKEN = 10**18
TOKEN_FIELDS = ("spent", "paid", "refunded", "fees", "earned", "token_balance")
ALLOCATION_FIELDS = ("own_use_wh", "local_wh", "complement_wh")


@dataclass
class Outcome:
    members: list[dict]  # viewer member summaries (token amounts as ints) with "index" and "role"
    totals: dict  # viewer community totals
    held: int  # the exchange's token balance, on chain
    owed: int  # open purchases' amounts + members' balances + accrued fees, on chain

    def by_role(self, role: str | None = None) -> dict[str, int]:
        rows = [m for m in self.members if role is None or m["role"] == role]
        keys = ["produced_wh", "consumed_wh", "purchases", "bought_wh", "delivered_wh", "sold_wh", *TOKEN_FIELDS,
                *ALLOCATION_FIELDS]
        return {k: sum(m[k] for m in rows) for k in keys} | {"members": len(rows)}

    def with_allocation(self, shares: dict[str, dict]) -> "Outcome":
        """Each member's row with its collective allocation (simulation.collective.allocate_run)."""
        for m in self.members:
            m.update({k: shares.get(m["address"], {}).get(k, 0) for k in ALLOCATION_FIELDS})
        return self

    def as_dict(self) -> dict:
        return {"per_member": self.members, "totals": self.totals, "held": self.held, "owed": self.owed}


def read_outcome(community: Community, members: list[Member], database: Path, live_indexer: bool = False,
                 timeout: float = 120) -> Outcome:
    """`live_indexer`: the served viewer indexes `database`; wait for it to reach the chain's head
    (two indexers must not write one store) instead of indexing here."""
    store = Store(database)
    if live_indexer:
        head, deadline = community.w3.eth.block_number, time.monotonic() + timeout
        while (store.cursor() or 0) < head:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the viewer's indexer is at block {store.cursor()}, the chain at {head}")
            time.sleep(0.2)
    else:
        Indexer(store, community).catch_up()
    rows = []
    for m in members:
        row = store.member_summary(m.plan.address)
        rows.append({"index": m.plan.index, "role": m.plan.role, **row,
                     **{k: int(row[k]) for k in TOKEN_FIELDS}})
    ex = community.exchange
    buyers = [m.meter_id for m in members if m.plan.sellers]
    open_amounts = sum(p[4] for p in read_many(ex, "openPurchase", [[b] for b in buyers]))
    balances = sum(read_many(ex, "balanceOf", [[m.plan.address] for m in members]))
    owed = open_amounts + balances + ex.functions.feesAccrued().call()
    return Outcome(rows, store.totals(), community.token.functions.balanceOf(ex.address).call(), owed)


# ------------------------------------------------------------------------------------ the table

COLUMNS = [  # (title, key, scale, decimals)
    ("produced kWh", "produced_wh", 1000, 2), ("consumed kWh", "consumed_wh", 1000, 2),
    ("buys", "purchases", 1, 0), ("bought kWh", "bought_wh", 1000, 2), ("delivered kWh", "delivered_wh", 1000, 2),
    ("sold kWh", "sold_wh", 1000, 2), ("paid DSE", "paid", TOKEN, 4), ("earned DSE", "earned", TOKEN, 4),
    ("refunded DSE", "refunded", TOKEN, 4), ("fees DSE", "fees", TOKEN, 4),
    ("local kWh", "local_wh", 1000, 2), ("complement kWh", "complement_wh", 1000, 2),
]


def table(outcome: Outcome, max_rows: int = 20) -> str:
    """Per member when the community is small, per role otherwise (summary.json has every member).
    A buyer's `paid` went to its sellers and `fees` to the operator; a seller's `earned` is its share."""
    if len(outcome.members) <= max_rows:
        rows = [(f"#{m['index']} {m['address'][:8]}…", m["role"], m) for m in outcome.members]
    else:
        rows = [(f"{outcome.by_role(role)['members']} {role}s", role, outcome.by_role(role))
                for role in ("producer", "consumer")]
    rows.append(("all", "", outcome.by_role()))
    header = ["member", "role", *[c[0] for c in COLUMNS]]
    body = [[name, role, *[f"{values[key] / scale:,.{decimals}f}" for _, key, scale, decimals in COLUMNS]]
            for name, role, values in rows]
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(v).rjust(w) if i > 1 else str(v).ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
             for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, lines[1])
    return "\n".join(lines)
