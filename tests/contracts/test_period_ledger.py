"""PeriodLedger: who commits, which versions, which periods; leaves verified against the roots."""
import ape
import pytest

from collective.merkle import StandardMerkleTree, leaf_hash

TYPES = ["bytes32", "address", "uint256"]
PERIOD = 202507


@pytest.fixture(scope="session")
def tree(accounts):
    rows = [[bytes([i]) * 32, accounts[i].address, 1_000 * i] for i in range(5)]
    return rows, StandardMerkleTree.of(TYPES, rows)


def roots(tree, total=0, rules=1):
    root = tree[1].root
    return (b"\x01" * 32, b"\x02" * 32, root, total, rules, 0)


def test_the_committer_commits_version_one(ledger, operator, tree):
    tx = ledger.commit(PERIOD, 1, roots(tree, 42), sender=operator)
    (event,) = tx.events.filter(ledger.PeriodCommitted)
    assert (event.period, event.version, event.statementRoot, event.settlementTotal) == (PERIOD, 1, tree[1].root, 42)
    assert ledger.latestVersion(PERIOD) == 1
    assert ledger.commitment(PERIOD, 1).statementRoot == tree[1].root


def test_a_new_version_supersedes_and_keeps_the_old_one(ledger, operator, tree):
    ledger.commit(PERIOD, 1, roots(tree, rules=1), sender=operator)
    ledger.commit(PERIOD, 2, (b"\x03" * 32, b"\x04" * 32, b"\x05" * 32, 0, 2, 0), sender=operator)
    assert ledger.latestVersion(PERIOD) == 2
    assert ledger.commitment(PERIOD, 1).statementRoot == tree[1].root
    assert ledger.commitment(PERIOD, 2).rulesVersion == 2


@pytest.mark.parametrize("version", [0, 2])
def test_versions_come_in_sequence(ledger, operator, tree, version):
    with ape.reverts(ledger.VersionNotNext, period=PERIOD, expected=1, given=version):
        ledger.commit(PERIOD, version, roots(tree), sender=operator)


def test_a_version_cannot_be_committed_twice(ledger, operator, tree):
    ledger.commit(PERIOD, 1, roots(tree), sender=operator)
    with ape.reverts(ledger.VersionNotNext):
        ledger.commit(PERIOD, 1, roots(tree), sender=operator)


def test_only_the_committer_commits(ledger, stranger, admin, tree):
    for account in (stranger, admin):
        with ape.reverts(ledger.AccessControlUnauthorizedAccount):
            ledger.commit(PERIOD, 1, roots(tree), sender=account)


@pytest.mark.parametrize("period", [202500, 202513, 199912, 1_000_001])
def test_a_period_is_a_month(ledger, operator, tree, period):
    with ape.reverts(ledger.InvalidPeriod, period=period):
        ledger.commit(period, 1, roots(tree), sender=operator)


def test_a_future_month_cannot_be_committed(ledger, operator, tree, chain):
    import datetime as dt

    now = dt.datetime.fromtimestamp(chain.pending_timestamp, dt.timezone.utc)
    nxt = (now.year + now.month // 12) * 100 + now.month % 12 + 1
    with ape.reverts(ledger.PeriodInFuture):
        ledger.commit(nxt, 1, roots(tree), sender=operator)
    ledger.commit(now.year * 100 + now.month, 1, roots(tree), sender=operator)  # the running month may be


def test_an_empty_root_is_refused(ledger, operator):
    with ape.reverts(ledger.EmptyRoot):
        ledger.commit(PERIOD, 1, (b"\x01" * 32, b"\x00" * 32, b"\x02" * 32, 0, 1, 0), sender=operator)


def test_every_leaf_verifies_and_a_tampered_one_does_not(ledger, operator, tree):
    rows, t = tree
    ledger.commit(PERIOD, 1, roots(tree), sender=operator)
    for i, row in enumerate(rows):
        assert ledger.verify(PERIOD, 1, 2, leaf_hash(TYPES, row), t.proof_of_row(i))
        assert ledger.verify(PERIOD, 0, 2, leaf_hash(TYPES, row), t.proof_of_row(i))  # 0 = latest
    tampered = rows[3][:2] + [rows[3][2] + 1]
    assert not ledger.verify(PERIOD, 1, 2, leaf_hash(TYPES, tampered), t.proof_of_row(3))
    assert not ledger.verify(PERIOD, 1, 1, leaf_hash(TYPES, rows[3]), t.proof_of_row(3))  # wrong tree


def test_verifying_an_uncommitted_period_reverts(ledger, tree):
    rows, t = tree
    with ape.reverts(ledger.NotCommitted, period=PERIOD, version=0):
        ledger.verify(PERIOD, 0, 2, leaf_hash(TYPES, rows[0]), t.proof_of_row(0))
