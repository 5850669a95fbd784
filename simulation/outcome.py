"""What happened, read back from the chain: every member's meter counters, token balance, and the
BuyEnergy / PurchaseSettled / PurchaseSkipped events of the run, as rows for the summary table."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from web3 import Web3

from daisee.chain import CONSUMER, Community, EventReader, abi_type
from simulation.community import CONSUMER_TOKENS, Member

EVENTS = ["BuyEnergy", "PurchaseSettled", "PurchaseSkipped"]
SPAN = 5_000  # blocks per eth_getLogs call: within what public RPC nodes accept
TOKEN = 10**18


@dataclass
class MemberOutcome:
    index: int
    address: str
    role: str
    meter_id: int
    produced_wh: int = 0
    consumed_wh: int = 0
    purchases: int = 0
    skipped: int = 0
    bought_wh: int = 0  # as buyer: Wh bought (BuyEnergy)
    delivered_wh: int = 0  # as buyer: Wh delivered in settled purchases
    sold_wh: int = 0  # as seller: Wh delivered to buyers
    paid: int = 0  # as buyer: token units paid to sellers and to the operator fee
    earned: int = 0  # as seller
    refunded: int = 0  # as buyer
    fees: int = 0  # as buyer: the operator's part of `paid`
    escrow: int = 0  # as buyer: amount of the purchase still open
    minted: int = 0
    balance: int = 0

    def reconciles(self) -> bool:
        """Tokens neither appear nor vanish: the wallet holds what was minted and earned, less what
        settled purchases took for good (`paid`: refunds came back) and what is still in escrow."""
        return self.balance == self.minted + self.earned - self.paid - self.escrow


@dataclass
class Outcome:
    members: list[MemberOutcome]
    fee_recipient: str
    fee_recipient_balance: int
    events: list = field(default_factory=list, repr=False)

    def totals(self, role: str | None = None) -> dict[str, int]:
        rows = [m for m in self.members if role is None or m.role == role]
        keys = ["produced_wh", "consumed_wh", "purchases", "skipped", "bought_wh", "delivered_wh", "sold_wh",
                "paid", "earned", "refunded", "fees", "escrow"]
        return {k: sum(getattr(m, k) for m in rows) for k in keys} | {"members": len(rows)}

    def as_dict(self) -> dict:
        return {"per_member": [asdict(m) for m in self.members], "fee_recipient": self.fee_recipient,
                "fee_recipient_balance": self.fee_recipient_balance, "totals": self.totals()}


def read_many(contract, name: str, args: list[list], per_call: int = 250) -> list:
    """`contract.name(*a)` for every `a` in `args`, a few eth_calls of the contract's `multicall`
    instead of one per member (a thousand members read in seconds, not minutes)."""
    fn = contract.get_function_by_name(name).abi
    inputs, outputs = [abi_type(i) for i in fn["inputs"]], [abi_type(o) for o in fn["outputs"]]
    selector = Web3.keccak(text=f"{name}({','.join(inputs)})")[:4]  # web3's encode_abi: ms per call
    results = []
    for i in range(0, len(args), per_call):
        data = [selector + abi_encode(inputs, a) for a in args[i:i + per_call]]
        results += [abi_decode(outputs, r)[0] for r in contract.functions.multicall(data).call()]
    return results


def read_outcome(community: Community, members: list[Member]) -> Outcome:
    ex, token = community.exchange, community.token
    infos = read_many(ex, "meter", [[m.meter_id] for m in members])
    balances = read_many(token, "balanceOf", [[m.plan.address] for m in members])
    rows = {}
    for m, info, balance in zip(members, infos, balances):
        rows[m.plan.address] = MemberOutcome(
            index=m.plan.index, address=m.plan.address, role=m.plan.role, meter_id=m.meter_id,
            produced_wh=info[6], consumed_wh=info[7], minted=CONSUMER_TOKENS if m.plan.kind == CONSUMER else 0,
            balance=balance,
        )
    events = run_events(community)
    open_amounts: dict[int, tuple[str, int]] = {}
    for e in events:
        buyer = rows.get(e.args["buyer"])
        if buyer is None:
            continue
        if e.name == "PurchaseSkipped":
            buyer.skipped += 1
        elif e.name == "BuyEnergy":
            buyer.purchases += 1
            buyer.bought_wh += e.args["wh"]
            open_amounts[e.args["purchaseId"]] = (e.args["buyer"], e.args["amount"])
        elif e.name == "PurchaseSettled":
            a = e.args
            open_amounts.pop(a["purchaseId"], None)
            buyer.delivered_wh += a["deliveredWh"]
            buyer.paid += a["paid"] + a["fee"]
            buyer.fees += a["fee"]
            buyer.refunded += a["refunded"]
            if a["seller"] in rows:
                rows[a["seller"]].sold_wh += a["deliveredWh"]
                rows[a["seller"]].earned += a["paid"]
    for buyer, amount in open_amounts.values():
        rows[buyer].escrow += amount
    recipient = ex.functions.feeRecipient().call()
    return Outcome(list(rows.values()), recipient, token.functions.balanceOf(recipient).call(), events)


def run_events(community: Community, names: list[str] | None = EVENTS, from_block: int | None = None):
    """The run's events (`names`; None: every event of both contracts) since the deployment (or
    `from_block`), in chain order."""
    reader = EventReader(community, names=names)
    head, events = reader.head(), []
    for start in range(from_block or community.deployment.deployed_block, head + 1, SPAN):
        events += reader.fetch(start, min(head, start + SPAN - 1))
    return events


# ------------------------------------------------------------------------------------ the table

COLUMNS = [  # (title, key, scale, decimals)
    ("produced kWh", "produced_wh", 1000, 2), ("consumed kWh", "consumed_wh", 1000, 2),
    ("buys", "purchases", 1, 0), ("bought kWh", "bought_wh", 1000, 2), ("delivered kWh", "delivered_wh", 1000, 2),
    ("sold kWh", "sold_wh", 1000, 2), ("paid DSE", "paid", TOKEN, 4), ("earned DSE", "earned", TOKEN, 4),
    ("refunded DSE", "refunded", TOKEN, 4), ("fees DSE", "fees", TOKEN, 4),
]


def table(outcome: Outcome, max_rows: int = 20) -> str:
    """Per member when the community is small, per role otherwise (summary.json has every member)."""
    if len(outcome.members) <= max_rows:
        rows = [(f"#{m.index} {m.address[:8]}…", m.role, asdict(m)) for m in outcome.members]
    else:
        rows = [(f"{outcome.totals(role)['members']} {role}s", role, outcome.totals(role))
                for role in ("producer", "consumer")]
    rows.append(("all", "", outcome.totals()))
    header = ["member", "role", *[c[0] for c in COLUMNS]]
    body = [[name, role, *[f"{values[key] / scale:,.{decimals}f}" for _, key, scale, decimals in COLUMNS]]
            for name, role, values in rows]
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(v).rjust(w) if i > 1 else str(v).ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
             for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, lines[1])
    return "\n".join(lines)
