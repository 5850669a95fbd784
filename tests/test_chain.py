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


def test_an_undecodable_log_comes_back_with_its_error_instead_of_stopping_the_range(admin, monkeypatch):
    community = admin.community
    start = community.w3.eth.block_number + 1
    t = trade(admin)
    head = community.w3.eth.block_number
    reader = EventReader(community, ["MeterReading", "OfferSet"])
    real = community.w3.eth.get_logs

    def corrupted(params):  # the first log of the range loses a topic, as a corrupt node might send it
        logs = real(params)
        return [{**logs[0], "topics": logs[0]["topics"][:1]}, *logs[1:]]

    monkeypatch.setattr(community.w3.eth, "get_logs", corrupted)
    events = reader.fetch(start, head)
    broken = [e for e in events if e.error]
    assert len(broken) == 1 and "undecodable" in broken[0].error and broken[0].args["data"]
    assert len(events) >= 2 and t.seller.meter_id in {e.args.get("meterId") for e in events if not e.error}
