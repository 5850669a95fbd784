"""CollectiveSettlement: every path and role. Debtors' amounts collected once, creditors paid from what
was collected for the same period version, a member who cannot pay blocking no one."""
import ape
import pytest

from collective.commit import Entry, STATEMENT_TYPES
from collective.merkle import StandardMerkleTree
from tests.contracts.conftest import TOKEN

PERIOD = 202507


@pytest.fixture(scope="session")
def settlement(project, admin, ledger, token):
    return admin.deploy(project.CollectiveSettlement, ledger, token)


@pytest.fixture(scope="session")
def parties(accounts):
    """Two consumers owe 30 and 20 tokens; a producer is owed 45, the PMO 5."""
    rows = [("c1", accounts[4], 30 * TOKEN, 0), ("c2", accounts[7], 20 * TOKEN, 0),
            ("p1", accounts[3], 0, 45 * TOKEN), ("pmo", accounts[2], 0, 5 * TOKEN)]
    return [Entry(m, a.address, d, c, bytes([i + 1]) * 32, bytes([0xA0 + i]) * 32) for i, (m, a, d, c) in enumerate(rows)]


@pytest.fixture(scope="session")
def statements(parties):
    return StandardMerkleTree.of(STATEMENT_TYPES, [e.values() for e in parties])


@pytest.fixture
def committed(ledger, operator, statements, parties):
    total = sum(e.debit for e in parties)
    ledger.commit(PERIOD, 1, (b"\x01" * 32, b"\x02" * 32, statements.root, total, 1, 0), sender=operator)


@pytest.fixture
def funded(token, admin, settlement, parties, accounts):
    """Each debtor holds its debit and allows the settlement contract to take it."""
    by_address = {a.address: a for a in accounts}
    for e in parties:
        if e.debit:
            token.mint(e.account, e.debit, sender=admin)
            token.approve(settlement, e.debit, sender=by_address[e.account])


def proof(statements, i):
    return statements.proof_of_row(i)


def test_the_leaf_matches_the_python_tree(settlement, parties):
    assert all(settlement.leafOf(e.as_tuple()) == e.leaf() for e in parties)


def test_anyone_collects_a_debit_once(settlement, token, committed, funded, parties, statements, stranger):
    e = parties[0]
    tx = settlement.collect(PERIOD, 1, e.as_tuple(), proof(statements, 0), sender=stranger)
    assert tx.events.filter(settlement.Collected)[0].amount == e.debit
    assert token.balanceOf(settlement) == e.debit
    assert settlement.collected(PERIOD, 1, e.leaf())
    with ape.reverts(settlement.AlreadyCollected):
        settlement.collect(PERIOD, 1, e.as_tuple(), proof(statements, 0), sender=stranger)


def test_a_tampered_entry_is_refused(settlement, committed, funded, parties, statements, stranger):
    e = parties[0]
    cheaper = Entry(e.member, e.account, e.debit - 1, e.credit, e.statement, e.salt)
    with ape.reverts(settlement.InvalidProof):
        settlement.collect(PERIOD, 1, cheaper.as_tuple(), proof(statements, 0), sender=stranger)


def test_an_entry_of_another_version_is_refused(settlement, committed, funded, parties, statements, stranger):
    with ape.reverts(settlement.NoSuchVersion):
        settlement.collect(PERIOD, 0, parties[0].as_tuple(), proof(statements, 0), sender=stranger)
    with ape.reverts():  # the ledger's NotCommitted
        settlement.collect(PERIOD, 2, parties[0].as_tuple(), proof(statements, 0), sender=stranger)


def test_a_creditor_has_nothing_to_collect(settlement, committed, parties, statements, stranger):
    with ape.reverts(settlement.NothingToCollect):
        settlement.collect(PERIOD, 1, parties[2].as_tuple(), proof(statements, 2), sender=stranger)


def test_a_debtor_has_nothing_to_be_paid(settlement, committed, parties, statements, stranger):
    with ape.reverts(settlement.NothingToPay):
        settlement.pay(PERIOD, 1, parties[0].as_tuple(), proof(statements, 0), sender=stranger)


def test_creditors_are_paid_in_full_once_all_is_collected(settlement, token, committed, funded, parties,
                                                          statements, stranger):
    settlement.collectMany(PERIOD, 1, [parties[0].as_tuple(), parties[1].as_tuple()],
                           [proof(statements, 0), proof(statements, 1)], sender=stranger)
    for i in (2, 3):
        before = token.balanceOf(parties[i].account)
        settlement.pay(PERIOD, 1, parties[i].as_tuple(), proof(statements, i), sender=stranger)
        assert token.balanceOf(parties[i].account) - before == parties[i].credit
        with ape.reverts(settlement.NothingToPay):
            settlement.pay(PERIOD, 1, parties[i].as_tuple(), proof(statements, i), sender=stranger)
    assert token.balanceOf(settlement) == 0
    assert settlement.pot(PERIOD, 1) == (50 * TOKEN, 50 * TOKEN)


def test_a_member_who_cannot_pay_blocks_no_one(settlement, token, committed, parties, statements, stranger,
                                               admin, accounts):
    """c2 has no allowance: the batch collects c1, creditors get c1's share (30/50) now, the rest later."""
    c1 = next(a for a in accounts if a.address == parties[0].account)
    token.mint(c1, parties[0].debit, sender=admin)
    token.approve(settlement, parties[0].debit, sender=c1)
    tx = settlement.collectMany(PERIOD, 1, [parties[0].as_tuple(), parties[1].as_tuple()],
                                [proof(statements, 0), proof(statements, 1)], sender=stranger)
    assert [e.account for e in tx.events.filter(settlement.CollectionFailed)] == [parties[1].account]
    assert not settlement.collected(PERIOD, 1, parties[1].leaf())
    producer = parties[2]
    settlement.pay(PERIOD, 1, producer.as_tuple(), proof(statements, 2), sender=stranger)
    assert settlement.paidTo(PERIOD, 1, producer.leaf()) == producer.credit * 30 // 50
    # c2 pays later: the producer receives the rest of its credit, never more.
    c2 = next(a for a in accounts if a.address == parties[1].account)
    token.mint(c2, parties[1].debit, sender=admin)
    token.approve(settlement, parties[1].debit, sender=c2)
    settlement.collect(PERIOD, 1, parties[1].as_tuple(), proof(statements, 1), sender=stranger)
    settlement.pay(PERIOD, 1, producer.as_tuple(), proof(statements, 2), sender=stranger)
    assert settlement.paidTo(PERIOD, 1, producer.leaf()) == producer.credit


def test_collect_with_a_relayed_permit(settlement, token, committed, parties, statements, stranger, admin, accounts,
                                       chain, sign_permit):
    e = parties[0]
    owner = next(a for a in accounts if a.address == e.account)
    token.mint(owner, e.debit, sender=admin)
    deadline = chain.pending_timestamp + 3_600
    v, r, s = sign_permit(owner, settlement, e.debit, deadline)
    settlement.collectWithPermit(PERIOD, 1, e.as_tuple(), proof(statements, 0), deadline, v, r, s, sender=stranger)
    assert settlement.collected(PERIOD, 1, e.leaf())
    assert token.balanceOf(owner) == 0


def test_a_front_run_permit_still_collects(settlement, token, committed, parties, statements, stranger, admin,
                                           accounts, chain, sign_permit):
    e = parties[0]
    owner = next(a for a in accounts if a.address == e.account)
    token.mint(owner, e.debit, sender=admin)
    deadline = chain.pending_timestamp + 3_600
    v, r, s = sign_permit(owner, settlement, e.debit, deadline)
    token.permit(owner, settlement, e.debit, deadline, v, r, s, sender=stranger)  # someone used it first
    settlement.collectWithPermit(PERIOD, 1, e.as_tuple(), proof(statements, 0), deadline, v, r, s, sender=stranger)
    assert settlement.collected(PERIOD, 1, e.leaf())


def test_a_single_collect_without_allowance_reverts(settlement, committed, parties, statements, stranger):
    with ape.reverts():
        settlement.collect(PERIOD, 1, parties[1].as_tuple(), proof(statements, 1), sender=stranger)
    assert not settlement.collected(PERIOD, 1, parties[1].leaf())


def test_batches_check_their_lengths(settlement, committed, parties, statements, stranger):
    with ape.reverts(settlement.LengthMismatch):
        settlement.collectMany(PERIOD, 1, [parties[0].as_tuple()], [], sender=stranger)


def test_a_batch_skips_what_was_collected_meanwhile(settlement, committed, funded, parties, statements, stranger):
    settlement.collect(PERIOD, 1, parties[0].as_tuple(), proof(statements, 0), sender=stranger)
    tx = settlement.collectMany(PERIOD, 1, [parties[0].as_tuple(), parties[1].as_tuple()],
                                [proof(statements, 0), proof(statements, 1)], sender=stranger)
    assert [e.account for e in tx.events.filter(settlement.Collected)] == [parties[1].account]
    assert settlement.pot(PERIOD, 1).collected == 50 * TOKEN


def test_payments_never_exceed_collections_when_the_total_is_understated(project, admin, operator, token, parties,
                                                                        statements, funded, stranger, ledger):
    """A wrong settlementTotal cannot make the contract pay out what it did not collect."""
    settlement = admin.deploy(project.CollectiveSettlement, ledger, token)
    ledger.commit(PERIOD, 1, (b"\x01" * 32, b"\x02" * 32, statements.root, 1, 1, 0), sender=operator)
    with ape.reverts(settlement.NothingToPay):
        settlement.pay(PERIOD, 1, parties[2].as_tuple(), proof(statements, 2), sender=stranger)


def test_the_constructor_refuses_zero_addresses(project, admin, ledger):
    with ape.reverts():  # ZeroAddress (a constructor's revert has no contract to decode it with)
        admin.deploy(project.CollectiveSettlement, ledger, "0x" + "00" * 20)
