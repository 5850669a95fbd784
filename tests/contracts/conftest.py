"""Contract fixtures (ape): named role accounts, deployed contracts, and factories for members,
readings and trades. Session-scoped: ape reverts the chain after every test (isolation)."""
from __future__ import annotations

import pytest

from daisee.chain import CONSUMER, PROSUMER, pack_reading
from tests.support.scenario import DELTA_WH as DELTA
from tests.support.scenario import PRICE_PER_WH as PRICE
from tests.support.scenario import SELLER_CHANNEL as CHANNEL
from tests.support.scenario import THRESHOLD_PERMILLE as THRESHOLD

TOKEN = 10**18
FEE_BPS = 100
ADMIN_DELAY = 3_600
BUDGET = 50 * TOKEN  # what the test buyer deposits into the exchange


@pytest.fixture(scope="session")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def operator(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def fee_recipient(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def seller(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def buyer(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def second_seller(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def oracle(accounts):
    """One gateway key serving every test meter, as a gateway Pi would."""
    return accounts[6]


@pytest.fixture(scope="session")
def stranger(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def token(project, admin):
    return admin.deploy(project.EnergyToken, admin)


def new_exchange(project, admin, token, operator, fee_recipient):
    """An EnergyExchange administered by `admin`, `operator` holding OPERATOR_ROLE."""
    ex = admin.deploy(project.EnergyExchange, token, admin, ADMIN_DELAY, fee_recipient, FEE_BPS)
    ex.grantRole(ex.OPERATOR_ROLE(), operator, sender=admin)
    return ex


@pytest.fixture(scope="session")
def ledger(project, admin, operator):
    """The period ledger; the operator commits (the PMO)."""
    ledger = admin.deploy(project.PeriodLedger, admin, ADMIN_DELAY)
    ledger.grantRole(ledger.COMMITTER_ROLE(), operator, sender=admin)
    return ledger


def registrar(exchange, operator, oracle):
    """register(owner, kind) -> meter id on `exchange`, read by the gateway key `oracle`"""

    def register(owner, kind):
        tx = exchange.registerMeter(owner, kind, oracle, sender=operator)
        return tx.events.filter(exchange.MeterRegistered)[0].meterId

    return register


@pytest.fixture(scope="session")
def exchange(project, admin, token, operator, fee_recipient):
    return new_exchange(project, admin, token, operator, fee_recipient)


@pytest.fixture(scope="session")
def register(exchange, operator, oracle):
    """register(owner, kind) -> meter id, read by the gateway key"""
    return registrar(exchange, operator, oracle)


@pytest.fixture(scope="session")
def clock(chain):
    """Timestamps the chain accepts now; `clock.advance(s)` moves the chain's time forward."""

    class Clock:
        def now(self) -> int:
            return chain.pending_timestamp

        def advance(self, seconds: int) -> None:
            chain.pending_timestamp += seconds

    return Clock()


@pytest.fixture(scope="session")
def read(exchange, oracle, clock):
    """read(meter_id, produced=, consumed=, soc=, seq=, ts=) -> receipt; defaults continue the
    meter's on-chain state (next seq, same counters, now)."""

    def read(meter_id, produced=None, consumed=None, soc=500, seq=None, ts=None, sender=None):
        m = exchange.meter(meter_id)
        reading = pack_reading(
            meter_id,
            m.seq + 1 if seq is None else seq,
            clock.now() if ts is None else ts,
            m.producedWh if produced is None else produced,
            m.consumedWh if consumed is None else consumed,
            soc,
        )
        return exchange.submitReadings([reading], sender=sender or oracle)

    return read


@pytest.fixture
def seller_meter(register, read, exchange, seller):
    meter_id = register(seller, PROSUMER)
    read(meter_id, produced=10_000, consumed=1_000, soc=900)
    exchange.setOffer(PRICE, 0, sender=seller)
    return meter_id


@pytest.fixture
def buyer_meter(register, read, exchange, token, admin, buyer, seller, seller_meter):
    meter_id = register(buyer, CONSUMER)
    read(meter_id, consumed=5_000, soc=600)
    exchange.setRule(THRESHOLD, DELTA, 2 * PRICE, [seller], [CHANNEL], sender=buyer)
    token.mint(buyer, 100 * TOKEN, sender=admin)
    token.approve(exchange, 2**256 - 1, sender=buyer)
    exchange.deposit(buyer, BUDGET, sender=buyer)
    return meter_id


@pytest.fixture
def trigger(read, buyer_meter, exchange):
    """A buyer reading under its threshold: the rule buys. Returns the receipt."""

    def trigger():
        return read(buyer_meter, consumed=exchange.meter(buyer_meter).consumedWh, soc=THRESHOLD - 1)

    return trigger


@pytest.fixture
def deliver(read, buyer_meter, exchange, clock):
    """The buyer's meter measures `wh` more consumption."""

    def deliver(wh):
        clock.advance(1)  # a reading timestamped at the purchase's start measures energy from before it
        return read(buyer_meter, consumed=exchange.meter(buyer_meter).consumedWh + wh, soc=600)

    return deliver


@pytest.fixture(scope="session")
def sign_permit(token, chain):
    """EIP-2612 signature (v, r, s) by `owner` for `spender`."""
    from eth_account import Account

    from daisee.chain import permit_signature

    def sign_permit(owner, spender, value, deadline):
        spender = str(spender.address if hasattr(spender, "address") else spender)
        return permit_signature(Account.from_key(owner.private_key), token.name(), token.address, chain.chain_id,
                                spender, value, token.nonces(owner), deadline)

    return sign_permit


def packed(rows) -> list[int]:
    """Reading tuples (meterId, seq, timestamp, producedWh, consumedWh, socPermille) as the
    contract's one-word readings."""
    return [pack_reading(*row) for row in rows]
