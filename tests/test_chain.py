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


def test_further_contracts_decode_with_their_own_abi_when_signatures_collide(admin):
    """The membership NFT's Transfer has the token's topic0: each is decoded by its own contract's ABI."""
    from eth_account import Account

    from daisee.chain import CONSUMER
    from tests.support.anvil import dev_account

    community = admin.community
    start = community.w3.eth.block_number + 1
    member = Account.create()
    admin.register(member, CONSUMER, dev_account(1))  # mints the member's membership token
    admin.mint(member, 5)
    head = community.w3.eth.block_number
    membership = community.contract("CommunityMembership").address
    events = EventReader(community, ["Transfer"], contracts=("CommunityMembership",)).fetch(start, head)
    nft = [e for e in events if e.address == membership]
    erc20 = [e for e in events if e.address == community.token.address]
    assert len(nft) == 1 and nft[0].args["to"] == member.address and "tokenId" in nft[0].args and not nft[0].error
    assert [e.args["value"] for e in erc20] == [5]


def test_the_default_reader_ignores_the_further_contracts(admin):
    from eth_account import Account

    from daisee.chain import CONSUMER
    from tests.support.anvil import dev_account

    community = admin.community
    start = community.w3.eth.block_number + 1
    admin.register(Account.create(), CONSUMER, dev_account(1))
    events = EventReader(community, ["Transfer", "MeterRegistered"]).fetch(start, community.w3.eth.block_number)
    assert [e.name for e in events] == ["MeterRegistered"]
