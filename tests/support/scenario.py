"""A two-member trade on a real node: a prosumer seller and a consumer buyer whose rule buys from
it. Used by the relay, viewer and end-to-end suites to produce real BuyEnergy/PurchaseSettled."""
from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from web3.logs import DISCARD

from daisee.chain import CONSUMER, PROSUMER, Transactor, pack_reading
from tests.support.anvil import CommunityAdmin

PRICE_PER_WH = 10**14  # 0.0001 token per Wh
DELTA_WH = 200
THRESHOLD_PERMILLE = 200
SELLER_CHANNEL = 1
BUDGET = 10**20  # tokens a test buyer deposits into the exchange


def funded_account(admin: CommunityAdmin, tokens: int = 10**21):
    """A fresh key with gas money and community tokens."""
    account = Account.create()
    w3 = admin.community.w3
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10**20)])
    if tokens:
        admin.mint(account, tokens)
    return account


@dataclass
class Member:
    account: object
    oracle: object
    meter_id: int
    tx: Transactor
    oracle_tx: Transactor
    seq: int = 0
    produced: int = 0
    consumed: int = 0
    timestamp: int = 0

    @property
    def address(self) -> str:
        return self.account.address


@dataclass
class Trade:
    admin: CommunityAdmin
    seller: Member
    buyer: Member

    def report(self, member: Member, produced: int = 0, consumed: int = 0, soc: int = 500):
        """One reading for `member`: counters advance by `produced`/`consumed` Wh."""
        member.seq += 1
        member.produced += produced
        member.consumed += consumed
        # a second after the chain's head, the earliest a reading can follow a purchase opened there
        # (a reading timestamped at a purchase's start measures energy from before it)
        member.timestamp = max(member.timestamp, self.admin.community.w3.eth.get_block("latest")["timestamp"] + 1)
        reading = pack_reading(member.meter_id, member.seq, member.timestamp, member.produced, member.consumed, soc)
        return member.oracle_tx.transact(self.admin.community.exchange.functions.submitReadings([reading]))

    def buy(self):
        """Buyer's battery under threshold: the rule buys DELTA_WH from the seller."""
        return self.report(self.buyer, consumed=1, soc=THRESHOLD_PERMILLE - 50)

    def deliver(self, wh: int = DELTA_WH):
        """Buyer's meter measures `wh` more consumption (settles when it reaches DELTA_WH)."""
        return self.report(self.buyer, consumed=wh, soc=600)

    def wait(self, seconds: int) -> None:
        """Let chain time pass (the next readings carry it)."""
        rpc = self.admin.community.w3.provider.make_request
        rpc("evm_increaseTime", [seconds])
        rpc("evm_mine", [])

    def events(self, receipt, name: str):
        return [dict(e["args"]) for e in self.admin.community.exchange.events[name]().process_receipt(receipt, errors=DISCARD)]


def member(admin: CommunityAdmin, kind: int) -> Member:
    account, oracle = funded_account(admin), funded_account(admin, tokens=0)
    meter_id = admin.register(account, kind, oracle)
    return Member(account, oracle, meter_id, admin.as_member(account), admin.as_member(oracle))


def trade(admin: CommunityAdmin, stock_wh: int = 100_000) -> Trade:
    """Registered seller with `stock_wh` produced and an offer; buyer with a rule and a balance in the
    exchange (BUDGET, deposited from its wallet)."""
    ex, token = admin.community.exchange, admin.community.token
    seller, buyer = member(admin, PROSUMER), member(admin, CONSUMER)
    seller.tx.transact(ex.functions.setOffer(PRICE_PER_WH, 0))
    buyer.tx.transact(
        ex.functions.setRule(THRESHOLD_PERMILLE, DELTA_WH, 2 * PRICE_PER_WH, [seller.address], [SELLER_CHANNEL])
    )
    buyer.tx.transact(token.functions.approve(ex.address, BUDGET))
    buyer.tx.transact(ex.functions.deposit(buyer.address, BUDGET))
    t = Trade(admin, seller, buyer)
    t.report(seller, produced=stock_wh, soc=900)
    return t

