"""Gas of the exchange's hot paths on a real anvil, against the naive one-reading-per-transaction
baseline (bench/NaiveReadings.sol) measured in the same run. All figures are whole-transaction
gasUsed (21 000 base included) in steady state (meters already hold state), unless named marginal.

    python -m bench gas
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from bench import Figure

SEED_CHAIN_GAS, SEED_CHAIN_BLOCK_S = 6_000_000, 5  # the 2017 PoA chain: 6 M gas a block, a block every 5 s
FLEET, READING_EVERY_S = 10_000, 900  # 10 000 meters reading every 15 minutes


def run() -> list[Figure]:
    from eth_account import Account

    from daisee.chain import PROSUMER, Community, Transactor, pack_reading
    from tests.support.anvil import AnvilNode, CommunityAdmin
    from tests.support.solc import compile_contract
    from tests.support.scenario import DELTA_WH, THRESHOLD_PERMILLE, member, trade

    with tempfile.TemporaryDirectory() as tmp:
        node = AnvilNode(Path(tmp) / "anvil").start()
        try:
            community = Community.open(node.settings(node.deploy(Path(tmp) / "local.json")))
            admin = CommunityAdmin(community)
            ex, w3 = community.exchange, community.w3
            max_batch = ex.functions.MAX_BATCH().call()

            def now() -> int:
                return w3.eth.get_block("latest")["timestamp"]

            # -- the realistic path: a gateway Pi's batch of 50 meters, one 15-minute reading each
            gateway = member(admin, PROSUMER)
            meters = [admin.register(Account.create(), PROSUMER, gateway.oracle) for _ in range(50)]

            def gateway_batch(seq: int) -> int:
                rows = [pack_reading(mid, seq, now(), 10 * seq, 5 * seq, 500) for mid in meters]
                return gateway.oracle_tx.transact(ex.functions.submitReadings(rows))["gasUsed"]

            gateway_batch(1)  # first reading fills the meters' counters: not steady state
            gateway_per_reading = gateway_batch(2) / 50
            blocks_per_round = READING_EVERY_S / SEED_CHAIN_BLOCK_S
            block_share = FLEET * gateway_per_reading / blocks_per_round / SEED_CHAIN_GAS

            # -- one meter sending its readings alone, or flushing a backlog
            m = member(admin, PROSUMER)

            def readings(count: int) -> list[int]:
                rows, ts = [], now()  # equal timestamps within a batch are valid
                for _ in range(count):
                    m.seq += 1
                    m.produced += 7
                    rows.append(pack_reading(m.meter_id, m.seq, ts, m.produced, m.produced // 2, 640))
                return rows

            def batch_gas(count: int) -> int:
                return m.oracle_tx.transact(ex.functions.submitReadings(readings(count)))["gasUsed"]

            batch_gas(1)
            per_reading = {n: batch_gas(n) / n for n in (1, 50)}

            # -- naive baseline, same node, one transaction per reading
            abi, bytecode = compile_contract(Path(__file__).parent / "NaiveReadings.sol", "NaiveReadings")
            deployer = Transactor(community, m.account)
            receipt = deployer.transact(w3.eth.contract(abi=abi, bytecode=bytecode).constructor())
            naive = w3.eth.contract(address=receipt["contractAddress"], abi=abi)
            deployer.transact(naive.functions.setReading(1, 1, 1))
            naive_gas = deployer.transact(naive.functions.setReading(2, 2, 2))["gasUsed"]

            # -- purchase triggered by a reading, settlement by the next one, expiry settlement
            t = trade(admin)
            t.report(t.buyer, consumed=10, soc=600)  # warm the buyer's counters
            plain = t.report(t.buyer, consumed=1, soc=600)["gasUsed"]
            purchase = t.buy()["gasUsed"]
            settle_in_reading = t.deliver(DELTA_WH)["gasUsed"]
            t.buy()
            # worst case of one reading: it settles the open purchase and its rule buys again
            settle_and_buy = t.report(t.buyer, consumed=DELTA_WH, soc=THRESHOLD_PERMILLE - 50)["gasUsed"] - plain
            t.deliver(DELTA_WH)
            t.buy()
            t.deliver(DELTA_WH // 4)
            t.wait(ex.functions.purchaseTtl().call() + 1)
            settle_with_refund = t.deliver(1)["gasUsed"]  # at expiry: part delivered, the rest refunded
            t.buy()
            grace = ex.functions.purchaseTtl().call() + ex.functions.settleGrace().call()
            t.wait(grace + 1)
            expired = admin.operator.transact(ex.functions.settleExpired(t.buyer.meter_id))["gasUsed"]
            register_gas = admin.operator.transact(
                ex.functions.registerMeter(Account.create().address, PROSUMER, gateway.oracle.address))["gasUsed"]
        finally:
            node.stop(hard=True)

    worst_batch = 21_000 + max_batch * (gateway_per_reading + settle_and_buy)
    return [
        Figure("gateway batch of 50 meters, per reading", gateway_per_reading, "gas", "<= 8000",
               note="50 meters x 1 reading, whole tx / 50"),
        Figure("naive / gateway per reading", naive_gas / gateway_per_reading, "x", ">= 5",
               note="how many times cheaper than one tx per reading"),
        Figure(f"block share, {FLEET} meters every 15 min", 100 * block_share, "%",
               note=f"{SEED_CHAIN_GAS // 10**6} M gas / {SEED_CHAIN_BLOCK_S} s blocks (the seed's PoA chain)"),
        Figure("naive baseline, one tx per reading", naive_gas, "gas", note="bench/NaiveReadings.sol"),
        Figure("one meter alone, batch 1, per reading", per_reading[1], "gas"),
        Figure("one meter's backlog, batch 50, per reading", per_reading[50], "gas"),
        Figure("rule-triggered purchase (reading tx)", purchase, "gas", "<= 120000"),
        Figure("settlement in the buyer's reading tx", settle_in_reading, "gas", "<= 60000", note="whole tx"),
        Figure("settlement, marginal over a reading", settle_in_reading - plain, "gas"),
        Figure("settlement at expiry with a refund, reading tx", settle_with_refund, "gas",
               note="whole tx; credits the buyer and releases the seller's reservation too"),
        Figure("worst reading: settles and buys, marginal", settle_and_buy, "gas"),
        Figure(f"worst batch of MAX_BATCH={max_batch}", worst_batch, "gas", f"<= {SEED_CHAIN_GAS}",
               note="every reading settles and buys"),
        Figure("settleExpired, standalone tx", expired, "gas", note="keeper path, buyer silent"),
        Figure("registerMeter (pre-warms purchase slots)", register_gas, "gas", note="once per member"),
    ]
