"""daisee.chain's own event decoder against web3's, on every kind of event a trade produces."""
from daisee.chain import EventReader, unpack_reading
from tests.support.scenario import DELTA_WH, trade


def test_event_reader_decodes_every_event_as_web3_does(admin):
    community = admin.community
    start = community.w3.eth.block_number + 1
    t = trade(admin)  # registrations, mints, offer, rule, approval, deposit, readings
    t.buy()
    t.deliver(DELTA_WH)
    head = community.w3.eth.block_number
    events = EventReader(community).fetch(start, head)
    logs = community.w3.eth.get_logs({"fromBlock": start, "toBlock": head,
                                      "address": [community.exchange.address, community.token.address]})
    assert len(events) == len(logs)
    names = set()
    for event, log in zip(events, logs):
        contract = community.exchange if log["address"] == community.exchange.address else community.token
        expected = dict(contract.events[event.name]().process_log(log)["args"])
        if event.name == "MeterReading":  # one packed word on chain, its named fields for the services
            expected = unpack_reading(expected["reading"])
        assert event.args == {k: list(v) if isinstance(v, tuple) else v for k, v in expected.items()}
        names.add(event.name)
    assert {"MeterRegistered", "Transfer", "OfferSet", "RuleSet", "Approval", "Deposited", "MeterReading",
            "BuyEnergy", "PurchaseSettled"} <= names
