"""Who lives in the simulated community, and the operator's set-up of it on chain.

Households are grouped in streets (a gateway Pi and a relay cabinet per street): consumers buy from
the producers of their own street, whose lines their relay board can reach. `plan_community()` is pure and
deterministic for a seed; `establish()` funds, registers and configures the members on chain the
way an operator would: gas, tokens, meter registration, offers, rules, and EIP-2612 permits that
members sign off-chain and the operator relays, so a member never sends an approval itself.
"""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from daisee.chain import CONSUMER, PRODUCER, CallCodec, Community, EventReader, Transactor, permit_signature, read_many

PRODUCER_SHARE = 0.4
SELLERS_PER_RULE = 3
PRICE_PER_WH = 10**14  # 0.0001 token per Wh: 0.1 token per kWh
PRICE_STEP = 10**13  # each further producer of a street asks a little more
MAX_PRICE_PER_WH = 2 * PRICE_PER_WH
THRESHOLD_PERMILLE = 300
DELTA_WH = 1000
RESERVE_WH = 500
CONSUMER_TOKENS = 100 * 10**18
DEPOSIT = 50 * 10**18  # what each consumer moves into its balance in the exchange
PERMIT_LIFETIME = 365 * 86400
DEV_GAS_BALANCE = 10**20  # set directly on a dev chain
GAS_PER_KEY = 5 * 10**16  # sent by the operator on a real chain


@dataclass(frozen=True)
class MemberPlan:
    index: int
    kind: int  # PRODUCER or CONSUMER
    street: int
    account: LocalAccount
    oracle: int  # index of the oracle (meter Pi, or street gateway) that reads this meter
    driver: dict  # oracle.settings.SimulatedDriver fields
    price_per_wh: int = 0  # producers' offer
    sellers: tuple[int, ...] = ()  # consumers: member indexes of the producers in the rule, in order
    own_channel: int | None = None  # consumers: relay channels on their street's board
    seller_channels: tuple[int, ...] = ()

    @property
    def address(self) -> str:
        return self.account.address

    @property
    def role(self) -> str:
        return "producer" if self.kind == PRODUCER else "consumer"


@dataclass(frozen=True)
class Plan:
    members: list[MemberPlan]
    oracles: list[LocalAccount]  # one key per oracle
    streets: int

    def street(self, street: int) -> list[MemberPlan]:
        return [m for m in self.members if m.street == street]

    def read_by(self, oracle: int) -> list[MemberPlan]:
        return [m for m in self.members if m.oracle == oracle]


def _key(secret: str, *path) -> LocalAccount:
    return Account.from_key(Web3.keccak(text=":".join(map(str, ("daisee-demo", secret, *path)))))


def plan_community(members: int, seed: int, street_size: int = 50, meters_per_oracle: int | None = None,
         secret: str | None = None) -> Plan:
    """A community of `members` households. Keys derive from `secret` (default: the seed, which
    makes a dev-chain run reproducible; use a random secret on a real chain)."""
    if members < 2:
        raise ValueError("a community needs at least 2 members: a producer and a consumer")
    if not 2 <= street_size <= 120:
        raise ValueError("street_size must be within 2..120 (a street's relay channels fit in a uint8)")
    per_oracle = meters_per_oracle or (1 if members <= 20 else street_size)
    secret = str(seed) if secret is None else secret
    rng = random.Random(seed)
    planned: list[MemberPlan] = []
    oracle_count = 0
    for street, start in enumerate(range(0, members, street_size)):
        size = min(street_size, members - start)
        producers = max(1, round(size * PRODUCER_SHARE))
        producer_indexes = list(range(start, start + producers))
        channel = 0
        for position in range(size):
            index = start + position
            if position % per_oracle == 0:
                oracle_count += 1
            common = dict(index=index, street=street, account=_key(secret, "member", index), oracle=oracle_count - 1)
            if position < producers:
                planned.append(MemberPlan(
                    kind=PRODUCER, price_per_wh=PRICE_PER_WH + position * PRICE_STEP, **common,
                    driver=dict(profile="producer", seed=seed * 100_003 + index, pv_peak_w=rng.uniform(3000, 4500),
                                battery_wh=10_000, initial_soc_permille=500, charge_from_seller_w=1500),
                ))
                continue
            turn = (position - producers) % producers
            sellers = tuple((producer_indexes[turn:] + producer_indexes[:turn])[:SELLERS_PER_RULE])
            planned.append(MemberPlan(
                kind=CONSUMER, sellers=sellers, own_channel=channel,
                seller_channels=tuple(range(channel + 1, channel + 1 + len(sellers))), **common,
                driver=dict(profile="consumer", seed=seed * 100_003 + index, pv_peak_w=0,
                            base_load_w=rng.uniform(250, 400), evening_peak_w=rng.uniform(1200, 1800),
                            battery_wh=5000, initial_soc_permille=rng.randint(330, 650), charge_from_seller_w=1500),
            ))
            channel += 1 + len(sellers)
    return Plan(members=planned, streets=street + 1,
                oracles=[_key(secret, "oracle", i) for i in range(oracle_count)])


# ------------------------------------------------------------------------------------ on chain


def dev_chain(w3: Web3) -> bool:
    """Anvil lets the simulation set balances and time; a real chain does not."""
    try:
        return w3.client_version.lower().startswith("anvil")
    except Exception:
        return False


@dataclass
class Member:
    plan: MemberPlan
    meter_id: int
    tx: Transactor = field(repr=False)


def batched(op: Transactor, contract, calls: list[tuple[str, list]], per_tx: int) -> list:
    """The operator's calls to one contract, `per_tx` at a time through its `multicall`; returns
    the receipts. All are sent before any is waited for: a phase costs a few blocks on a real chain."""
    codecs = {name: CallCodec(contract, name) for name in {name for name, _ in calls}}
    chunks = [calls[i:i + per_tx] for i in range(0, len(calls), per_tx)]
    hashes = [op.send(contract.functions.multicall([codecs[name].encode(args) for name, args in chunk]))
              for chunk in chunks]
    return [op.wait(h) for h in hashes]


def each_member(calls: list[tuple[Transactor, object]], workers: int = 8) -> None:
    """Members' own transactions (one key each), several members at a time."""
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda call: call[0].transact(call[1]), calls))


def fund_gas(community: Community, operator: Transactor, addresses: list[str], dev: bool) -> None:
    w3 = community.w3
    if dev:
        for address in addresses:
            w3.provider.make_request("anvil_setBalance", [address, hex(DEV_GAS_BALANCE)])
        return
    hashes = []
    for address in addresses:
        if w3.eth.get_balance(address) < GAS_PER_KEY // 2:
            hashes.append(operator.send_value(address, GAS_PER_KEY))
    for h in hashes:
        operator.wait(h)


def establish(community: Community, operator: LocalAccount, plan: Plan, dev: bool | None = None) -> list[Member]:
    """Fund, register and configure every planned member; returns them with their meter ids.
    `dev`: whether balances can be set directly (default: asked of the node)."""
    ex, token = community.exchange, community.token
    op = Transactor(community, operator, receipt_timeout=120)
    dev = dev_chain(community.w3) if dev is None else dev
    fund_gas(community, op, [m.address for m in plan.members] + [o.address for o in plan.oracles], dev)

    consumers = [m for m in plan.members if m.kind == CONSUMER]
    batched(op, token, [("mint", [m.address, CONSUMER_TOKENS]) for m in consumers], per_tx=200)
    receipts = batched(op, ex, [("registerMeter", [m.address, m.kind, plan.oracles[m.oracle].address])
                                for m in plan.members], per_tx=50)
    registered = EventReader(community, ["MeterRegistered"]).fetch(receipts[0]["blockNumber"],
                                                                   receipts[-1]["blockNumber"])
    meter_ids = {e.args["owner"]: e.args["meterId"] for e in registered}
    members = [Member(m, meter_ids[m.address], Transactor(community, m.account, receipt_timeout=120))
               for m in plan.members]

    address = {m.index: m.address for m in plan.members}
    each_member([
        (m.tx, ex.functions.setOffer(m.plan.price_per_wh, RESERVE_WH)) if m.plan.kind == PRODUCER else
        (m.tx, ex.functions.setRule(THRESHOLD_PERMILLE, DELTA_WH, MAX_PRICE_PER_WH,
                                    [address[s] for s in m.plan.sellers], list(m.plan.seller_channels)))
        for m in members
    ])

    # Members sign permits off-chain; the operator relays them (`depositWithPermit`), so members never
    # send a transaction to fund their balance in the exchange.
    name, chain_id = token.functions.name().call(), community.deployment.chain_id
    deadline = community.w3.eth.get_block("latest")["timestamp"] + PERMIT_LIFETIME
    permits = []
    nonces = read_many(token, "nonces", [[m.address] for m in consumers])
    for m, nonce in zip(consumers, nonces):
        v, r, s = permit_signature(m.account, name, token.address, chain_id, ex.address, DEPOSIT, nonce, deadline)
        permits.append(("depositWithPermit", [m.address, DEPOSIT, deadline, v, r, s]))
    batched(op, ex, permits, per_tx=100)
    return members
