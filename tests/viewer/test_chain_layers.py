"""Periods, settlement and governance on a private anvil deployed by the project's deploy (short
governance delays): the indexer stores their events, the public and member endpoints show them, and
the browser checks a statement proof against the root the ledger holds."""
from __future__ import annotations

import json
import os

import pytest
import schemathesis
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from collective.commit import STATEMENT_TYPES, Entry, PeriodCommitment
from collective.ledger import commit_period, settle
from collective.merkle import StandardMerkleTree
from daisee.chain import CONSUMER, Community, Transactor
from governance.contracts import Governance
from governance.handover import Handover
from governance.proposals import Action, execute, propose, queue, vote
from tests.support.anvil import AnvilNode, CommunityAdmin, dev_account, free_port
from tests.support.scenario import funded_account
from tests.viewer.conftest import serving, sign_in
from tests.viewer.references import past_period
from tests.viewer.test_dashboard import browser, sign_in_by_pasting  # noqa: F401 - the module's browser fixture
from tests.viewer.test_layers import statement
from tests.viewer.test_schema import CHECKS
from viewer.api import create_app
from viewer.auth import Authenticator, contract_roles
from viewer.indexer import Indexer
from viewer.store import Store

GOVERNANCE = ("--admin-delay", "0", "--timelock-delay", "30", "--voting-delay", "1", "--voting-period", "120",
              "--quorum-percent", "50")
DEBIT = 100


class OnChain:
    """A deployment with two members, period `period` committed twice (v2 settled) and two proposals:
    `defeated` (1 for, 1 against) and `executed` (passed, queued, executed)."""

    def __init__(self, node: AnvilNode, settings):
        self.node, self.settings = node, settings
        self.community = Community.open(settings)
        self.admin = CommunityAdmin(self.community)
        self.buyer, self.seller = funded_account(self.admin, tokens=10**18), funded_account(self.admin, tokens=0)
        for member in (self.buyer, self.seller):
            self.admin.register(member, CONSUMER, dev_account(1))
        self.travel(1)
        self.period = past_period(self.community)
        self.versions = {v: self.commit(v) for v in (1, 2)}
        settlement = self.community.contract("CollectiveSettlement")
        Transactor(self.community, self.buyer).transact(self.community.token.functions.approve(settlement.address, DEBIT))
        settle(self.community, self.admin.operator, self.period, 2, self.versions[2].settlement_items())
        gov = Governance.open(self.community)
        self.travel(31)  # the deploy began the hand-over to the timelock (admin delay 0, timelock delay 30)
        Handover(gov).complete(self.admin.operator)
        tx = {m.address: Transactor(self.community, m) for m in (self.buyer, self.seller)}
        self.defeated = propose(gov, tx[self.buyer.address], [Action(gov.exchange, "setFee", (42, dev_account(0).address))], "fee to 0.42 %")
        self.executed = propose(gov, tx[self.buyer.address], [Action(gov.exchange, "setFee", (43, dev_account(0).address))], "fee to 0.43 %")
        self.travel(2)
        vote(gov, tx[self.buyer.address], self.defeated, "for", "cheaper for all")
        vote(gov, tx[self.seller.address], self.defeated, "against")
        for member in (self.buyer, self.seller):
            vote(gov, tx[member.address], self.executed, "for")
        self.travel(121)
        queue(gov, tx[self.seller.address], self.executed)
        self.travel(31)
        execute(gov, tx[self.seller.address], self.executed)

    def commit(self, version: int) -> PeriodCommitment:
        entries = [Entry("meter-b", self.buyer.address, DEBIT, 0, keccak(text=f"bill b {version}"), os.urandom(32)),
                   Entry("meter-s", self.seller.address, 0, DEBIT, keccak(text=f"bill s {version}"), os.urandom(32))]
        tree = StandardMerkleTree.of(STATEMENT_TYPES, [e.values() for e in entries])
        commitment = PeriodCommitment(self.period, version, 1, {"inputs": tree, "allocation": tree, "statements": tree},
                                      entries)
        commit_period(self.community, self.admin.operator, commitment)
        return commitment

    def travel(self, seconds: int) -> None:
        self.community.w3.provider.make_request("evm_increaseTime", [seconds])
        self.community.w3.provider.make_request("evm_mine", [])

    def reference(self, member: str, version: int = 2) -> dict:
        return self.versions[version].reference(member, self.community.deployment.chain_id,
                                                self.community.contract("PeriodLedger").address)

    def files(self, folder, tamper_seller: bool = False):
        """references/ and statements/ as `daisee-collective commit` and `bill` write them."""
        statements, references = folder / "statements", folder / "references"
        statements.mkdir()
        references.mkdir()
        for name in ("meter-b", "meter-s"):
            ref = self.reference(name)
            if tamper_seller and name == "meter-s":
                ref["version"] = 1  # claims the v1 commitment, whose root on chain is another
            (references / f"{name}.json").write_text(json.dumps(ref))
            (statements / f"{name}.json").write_text(json.dumps(statement(name)))
        return statements, references


@pytest.fixture(scope="module")
def onchain(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("chain-layers")
    node = AnvilNode(workdir).start()
    try:
        yield OnChain(node, node.settings(node.deploy(workdir / "local.json", options=GOVERNANCE)))
    finally:
        node.stop(hard=True)


@pytest.fixture(scope="module")
def indexed(onchain, tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("chain-layers-db") / "v.sqlite")
    Indexer(store, onchain.community).catch_up()
    return store


@pytest.fixture(scope="module")
def app(indexed, onchain, tmp_path_factory):
    statements, references = onchain.files(tmp_path_factory.mktemp("chain-layers-files"))
    auth = Authenticator(contract_roles(onchain.community.exchange), "test.daisee")
    with TestClient(create_app(indexed, auth, statements=statements, references=references)) as client:
        yield client


def test_the_indexer_stores_both_versions_of_a_committed_period(indexed, onchain):
    rows = {r["version"]: r for r in indexed.periods() if r["period"] == onchain.period}
    assert sorted(rows) == [1, 2]
    for version, row in rows.items():
        assert row["statement_root"] == "0x" + onchain.versions[version].roots["statements"].hex()
        assert row["settlement_total"] == str(DEBIT) and row["rules_version"] == 1
    assert rows[1]["superseded"] and not rows[2]["superseded"]


def test_the_indexer_sums_what_the_settlement_collected_and_paid(indexed, onchain):
    rows = {r["version"]: r for r in indexed.periods() if r["period"] == onchain.period}
    assert (rows[2]["collected"], rows[2]["paid"]) == (str(DEBIT), str(DEBIT))
    assert (rows[1]["collected"], rows[1]["paid"]) == ("0", "0")


def test_the_indexer_stores_the_rule_versions(indexed, onchain):
    rules = onchain.community.contract("CommunityRules")
    versions = indexed.rule_versions()
    assert versions and versions[-1]["version"] == rules.functions.latestVersion().call()


def test_a_reorg_forgets_the_governance_and_periods_above_the_fork(indexed, onchain, tmp_path):
    store = Store(tmp_path / "copy.sqlite")
    Indexer(store, onchain.community).catch_up()
    first = min(r["block_number"] for r in store.periods())
    store.rollback(first - 1)
    assert store.periods() == [] and store.proposals() == [] and store.votes(onchain.buyer.address) == []


def test_proposals_are_public_with_tallies_and_states(app, onchain):
    reply = app.get("/api/governance/proposals")
    assert reply.status_code == 200
    by_id = {p["proposal_id"]: p for p in reply.json()}
    defeated, executed = by_id[str(onchain.defeated)], by_id[str(onchain.executed)]
    assert (defeated["votes_for"], defeated["votes_against"], defeated["state"]) == ("1", "1", "defeated")
    assert (executed["votes_for"], executed["voters"], executed["state"]) == ("2", 2, "executed")
    assert executed["eta"] and executed["description"] == "fee to 0.43 %"


def test_a_proposal_is_active_while_its_vote_is_open(indexed, onchain):
    from viewer.api import proposal_state

    row = next(p for p in indexed.proposals() if p["proposal_id"] == str(onchain.defeated))
    assert proposal_state(row, row["vote_start"] + 1) == ("active", None)
    assert proposal_state(row, row["vote_start"]) == ("pending", None)


def test_periods_and_rules_are_public(app, onchain):
    periods = app.get("/api/periods")
    assert periods.status_code == 200 and {p["version"] for p in periods.json()} == {1, 2}
    assert app.get("/api/rules").status_code == 200 and app.get("/api/rules").json()


def test_a_members_votes_need_sign_in(app):
    assert app.get("/api/me/votes").status_code == 401


def test_a_member_sees_its_own_votes_only(app, onchain):
    votes = app.get("/api/me/votes", headers=sign_in(app, onchain.buyer)).json()
    assert sorted((v["description"], v["support"], v["reason"]) for v in votes) == [
        ("fee to 0.42 %", "for", "cheaper for all"), ("fee to 0.43 %", "for", "")]
    seller = app.get("/api/me/votes", headers=sign_in(app, onchain.seller)).json()
    assert {v["support"] for v in seller if v["description"] == "fee to 0.42 %"} == {"against"}


def test_the_statement_comes_from_the_bill_named_by_the_reference(app, onchain):
    own = app.get("/api/me/statement", headers=sign_in(app, onchain.buyer)).json()
    assert own["member"] == "meter-b" and own["lines"]
    root = next(p["statement_root"] for p in app.get("/api/periods").json() if p["version"] == 2)
    assert own["reference"]["statement_root"] == root and own["reference"]["version"] == 2


def test_the_operator_reads_a_members_statement(app, onchain):
    reply = app.get(f"/api/operator/statements/{onchain.seller.address}", headers=sign_in(app, dev_account(0)))
    assert reply.status_code == 200 and reply.json()["member"] == "meter-s"


# ------------------------------------------------------------------ the browser's proof check


@pytest.fixture(scope="module")
def chain_server(onchain, tmp_path_factory):
    from viewer.settings import ViewerSettings

    workdir = tmp_path_factory.mktemp("chain-layers-live")
    statements, references = onchain.files(workdir, tamper_seller=True)
    settings = ViewerSettings(chain=onchain.settings, database=workdir / "v.sqlite", port=free_port(),
                              forecast=workdir / "none.json", statements=statements, references=references)
    with serving(settings, lambda get: len(get("/api/governance/proposals")) == 2) as url:
        yield url  # up, and the indexer has read the governance of the setup


@pytest.fixture
def chain_page(browser, chain_server):  # noqa: F811 - the browser fixture imported above
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(chain_server)
    yield page
    context.close()


def test_the_public_page_shows_periods_and_proposals(chain_page):
    expect(chain_page.locator("#periods tbody tr")).to_have_count(2)
    expect(chain_page.locator("#proposals .badge")).to_have_text(["executed", "defeated"])


def test_a_member_checks_its_proof_against_the_root_on_chain(chain_page, onchain):
    sign_in_by_pasting(chain_page, onchain.buyer)
    expect(chain_page.locator("#statementLines tbody tr")).to_have_count(1)
    expect(chain_page.locator("#myVotes tbody tr")).to_have_count(2)
    chain_page.click("#verifyProof")
    expect(chain_page.locator("#proofResult")).to_have_attribute("data-ok", "true")
    expect(chain_page.locator("#proofResult")).to_contain_text("committed on chain")


def test_a_reference_claiming_another_version_fails_against_the_root_on_chain(chain_page, onchain):
    sign_in_by_pasting(chain_page, onchain.seller)  # its v2 proof, labelled v1: the v1 root on chain differs
    chain_page.click("#verifyProof")
    expect(chain_page.locator("#proofResult")).to_have_attribute("data-ok", "false")
    expect(chain_page.locator("#proofResult")).to_contain_text("committed on chain for period")


# ------------------------------------------------------------------ schema (schemathesis), with data behind it


@pytest.fixture(scope="module")
def chain_schema(indexed, onchain, tmp_path_factory):
    statements, references = onchain.files(tmp_path_factory.mktemp("chain-layers-schema"))
    auth = Authenticator(contract_roles(onchain.community.exchange), "test.daisee")
    return schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(indexed, auth, statements=statements, references=references))


NEW_PATHS = r"^/api/(periods|rules|governance/proposals|me/votes|me/statement|me/reference|operator/statements/.*)$"
schemathesis_schema = schemathesis.pytest.from_fixture("chain_schema").include(path_regex=NEW_PATHS)


@schemathesis_schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_new_endpoints_answer_a_member_by_the_schema(case, onchain, app):
    case.call_and_validate(headers=sign_in(app, onchain.buyer), checks=CHECKS)


@schemathesis_schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_new_endpoints_answer_the_operator_by_the_schema(case, app):
    case.call_and_validate(headers=sign_in(app, dev_account(0)), checks=CHECKS)
