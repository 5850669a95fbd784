"""The whole chain of events on a real anvil, with the real services: a consumer's battery runs low,
the contract buys from its neighbour, the relay switches, the meter measures the delivery, the
contract settles with exact token movements, the relay switches back, and the viewer shows it.
A relay outage ends in a refund at expiry; the same run with an oracle killed, the node restarted
and the relay restarted has the same outcome; a chain with its own clock is followed, not set."""
from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from daisee.chain import Community, EventReader, Transactor
from relay.board import read_transitions
from simulation.community import DELTA_WH, GAS_PER_KEY, THRESHOLD_PERMILLE, establish, plan_community
from simulation.world import Simulation
from tests.support.anvil import AnvilNode, dev_account
from tests.viewer.conftest import sign_in
from viewer.api import create_app
from viewer.auth import Authenticator, contract_operator_check
from viewer.indexer import Indexer
from viewer.store import Store

MAX_STEPS = 80  # 20 simulated hours


def step_until(run, name: str, count: int = 1) -> int:
    """Step the world until the chain has `count` events `name`; returns the steps taken."""
    for steps in range(1, MAX_STEPS + 1):
        run.sim.step()
        if len(run.events(name)) >= count:
            return steps
    raise AssertionError(f"no {name} #{count} within {MAX_STEPS} steps")


def test_low_battery_purchase_is_switched_delivered_settled_and_shown(community_run, start_time, tmp_path):
    run = community_run(start_time)
    ex, consumer, producer = run.community.exchange, run.consumer, run.producer
    fee_bps, recipient = ex.functions.feeBps().call(), ex.functions.feeRecipient().call()
    before = {a: run.balance(a) for a in (consumer.plan.address, producer.plan.address)}
    held, fees = run.wallet(ex.address), run.fees()

    step_until(run, "BuyEnergy")
    (buy,) = run.events("BuyEnergy")
    assert run.community.meter(consumer.meter_id).socPermille < THRESHOLD_PERMILLE  # the reading that bought reported a SoC under the threshold
    amount = DELTA_WH * producer.plan.price_per_wh
    channel = consumer.plan.seller_channels[0]
    assert buy == {"purchaseId": buy["purchaseId"], "buyer": consumer.plan.address, "seller": producer.plan.address,
                   "wh": DELTA_WH, "amount": amount, "channel": channel}
    assert run.balance(consumer.plan.address) == before[consumer.plan.address] - amount  # escrowed
    assert run.wallet(ex.address) == held  # escrow moves no token
    assert run.sim.supply(consumer.plan) == {"source": "seller", "channel": channel,
                                             "seller": producer.plan.address, "purchase_id": buy["purchaseId"]}
    start_consumed = ex.functions.openPurchase(consumer.meter_id).call()[5]

    step_until(run, "PurchaseSettled")
    (settled,) = run.events("PurchaseSettled")
    assert run.community.meter(consumer.meter_id).consumedWh - start_consumed >= DELTA_WH  # measured delivery
    fee = amount * fee_bps // 10_000
    assert settled == {"purchaseId": buy["purchaseId"], "buyer": consumer.plan.address,
                       "seller": producer.plan.address, "deliveredWh": DELTA_WH, "paid": amount - fee,
                       "refunded": 0, "fee": fee}
    assert run.balance(consumer.plan.address) == before[consumer.plan.address] - amount
    assert run.balance(producer.plan.address) == before[producer.plan.address] + amount - fee
    assert run.fees() == fees + fee
    assert run.wallet(ex.address) == held
    recipient_before, accrued = run.wallet(recipient), run.fees()
    Transactor(run.community, dev_account(0)).transact(ex.functions.withdrawFees())  # anyone may send them
    assert run.wallet(recipient) == recipient_before + accrued and run.fees() == 0
    assert run.sim.supply(consumer.plan) == {"source": "own", "channel": consumer.plan.own_channel,
                                             "seller": None, "purchase_id": None}
    assert len(run.events("BuyEnergy")) == 1  # one purchase for one low battery

    store = Store(tmp_path / "viewer.sqlite")
    Indexer(store, run.community).catch_up()
    with TestClient(create_app(store, Authenticator(contract_operator_check(ex), "e2e.daisee"))) as client:
        headers = sign_in(client, consumer.plan.account)
        (shown,) = client.get("/api/purchases", params={"status": "settled"}, headers=headers).json()["items"]
        summary = client.get(f"/api/members/{consumer.plan.address}/summary", headers=headers).json()
    assert (shown["purchase_id"], shown["seller"], shown["wh"], int(shown["amount"]), shown["channel"]) == (
        buy["purchaseId"], producer.plan.address, DELTA_WH, amount, channel)
    assert (shown["delivered_wh"], int(shown["paid"]), int(shown["fee"]), int(shown["refunded"])) == (
        DELTA_WH, amount - fee, fee, 0)
    assert (summary["bought_wh"], summary["delivered_wh"], int(summary["fees"]), int(summary["refunded"])) == (
        DELTA_WH, DELTA_WH, fee, 0)
    assert int(summary["token_balance"]) == run.wallet(consumer.plan.address)


def test_energy_not_delivered_by_expiry_is_refunded(community_run, start_time):
    """The relay stays down through the purchase: the buyer keeps drawing from its own battery,
    its meter measures far less than was bought, and at expiry the contract charges only that."""
    run = community_run(start_time)
    ex, consumer, producer = run.community.exchange, run.consumer, run.producer
    # purchases expire after 5 min, settled by the next 15-minute reading: the household's own load
    # alone cannot reach the 1 kWh bought in that time (a whole half-hour of an evening peak can)
    Transactor(run.community, dev_account(0)).transact(ex.functions.setTiming(300, 300, 3600))
    before = {a: run.balance(a) for a in (consumer.plan.address, producer.plan.address)}
    step_until(run, "BuyEnergy")
    (buy,) = run.events("BuyEnergy")
    start_consumed = ex.functions.openPurchase(consumer.meter_id).call()[5]
    for _ in range(MAX_STEPS):  # meters report, nobody switches
        run.sim.time.advance()
        run.sim.sample()
        run.sim.submit()
        if run.events("PurchaseSettled"):
            break
    (settled,) = run.events("PurchaseSettled")
    delivered = run.community.meter(consumer.meter_id).consumedWh - start_consumed  # the settling reading
    assert 0 < delivered < DELTA_WH
    gross = buy["amount"] * delivered // DELTA_WH
    fee = gross * ex.functions.feeBps().call() // 10_000
    assert settled == {"purchaseId": buy["purchaseId"], "buyer": consumer.plan.address,
                       "seller": producer.plan.address, "deliveredWh": delivered, "paid": gross - fee,
                       "refunded": buy["amount"] - gross, "fee": fee}
    escrowed = sum(b["amount"] for b in run.events("BuyEnergy")[1:])  # the rule may buy again at once
    assert run.balance(consumer.plan.address) == before[consumer.plan.address] - gross - escrowed
    assert run.balance(producer.plan.address) == before[producer.plan.address] + gross - fee


def outcome(run) -> dict:
    """Everything observable from the simulation's start, with members by index: every event of
    both contracts (readings, purchases, settlements, transfers), final balances and counters, and
    the relay's switches."""
    index = {m.plan.address: m.plan.index for m in run.members}

    def plain(value):
        return index.get(value, value) if isinstance(value, str) else value

    street = run.consumer.plan.street
    return {
        "events": [(e.name, {k: plain(v) for k, v in e.args.items()})
                   for e in EventReader(run.community).fetch(run.first_block, run.community.w3.eth.block_number)],
        "balances": {i: run.balance(a) for a, i in index.items()},
        "meters": {m.plan.index: run.community.meter(m.meter_id) for m in run.members},
        "switches": [(index[t["member"]], t["source"], t["channel"], t["purchase_id"])
                     for t in read_transitions(run.sim.relay_settings(street))],
    }


def test_faults_do_not_change_the_outcome(community_run, start_time):
    clean = community_run(start_time)
    bought = step_until(clean, "BuyEnergy")
    settled = bought + step_until(clean, "PurchaseSettled")
    steps = settled + 4
    for _ in range(steps - settled):
        clean.sim.step()

    faulty = community_run(start_time)
    sim, node = faulty.sim, faulty.node
    oracle, street = faulty.consumer.plan.oracle, faulty.consumer.plan.street
    for step in range(1, steps + 1):
        sim.time.advance()
        sim.sample()
        if step == bought:  # the buying reading is only queued when its oracle dies
            sim.kill_oracle(oracle)
            assert sim.oracles[oracle].store.pending_count() == 1  # the new oracle finds it on disk
        if step == bought + 1:  # node down while readings wait; back a second later with its state
            first_node = node.proc.pid
            node.stop()
            threading.Timer(1.0, node.start).start()
        sim.submit()
        if step in (bought, settled):  # relay restarted before it has seen the purchase / the settlement
            sim.kill_relay(street)
        sim.follow()

    assert node.proc.pid != first_node
    assert outcome(faulty) == outcome(clean)
    assert len(faulty.events("BuyEnergy")) >= 1 and len(faulty.events("PurchaseSettled")) >= 1


def test_on_a_chain_with_its_own_clock_the_community_follows_it(tmp_path):
    """The path of a real network (a PoA of Pis, Volta): the operator pays each new key's gas with a
    transfer, and the world takes a step each time the chain's own blocks have moved time on."""
    node = AnvilNode(tmp_path / "anvil").start()
    try:
        chain = node.settings(node.deploy(tmp_path / "local.json"))
        w3 = Community.open(chain).w3
        w3.provider.make_request("evm_setAutomine", [False])  # from here on, a block a second like a PoA
        w3.provider.make_request("evm_setIntervalMining", [1])
        plan = plan_community(3, seed=3)
        members = establish(Community.open(chain), dev_account(0), plan, dev=False)
        assert [w3.eth.get_balance(o.address) for o in plan.oracles] == [GAS_PER_KEY] * 3  # nothing sent yet
        assert all(0 < w3.eth.get_balance(m.address) < GAS_PER_KEY for m in plan.members)  # paid their set-up
        sim = Simulation(chain, plan, members, tmp_path / "run", step=2, controls_chain=False)
        sim.begin()
        started = sim.time.now
        for _ in range(3):
            sim.step()
        assert sim.time.now - started >= 6  # three steps of the chain's own 2 s
        readings = sim.community.meters([m.meter_id for m in members])
        assert [r.seq for r in readings] == [4, 4, 4]  # the first reading and one per step, each landed
        assert all(abs(r.timestamp - sim.time.now) <= 2 for r in readings)  # stamped with chain time
        sim.close()
    finally:
        node.stop(hard=True)
