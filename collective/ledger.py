"""The chain side of a period: commit its roots, verify a member's statement, settle local energy.

Contracts (deployment names): `PeriodLedger` (the PMO's COMMITTER_ROLE commits roots; anyone verifies)
and `CollectiveSettlement` (collects each debtor's amount once, pays creditors from what was collected).
Connection, keys and revert decoding come from daisee.chain, as for every service.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from eth_utils import to_checksum_address
from web3.logs import DISCARD  # a receipt's Transfer logs are the token's, not this contract's

from daisee.chain import Community, ContractRevert, Transactor

from collective.commit import TREES, Entry, PeriodCommitment, check_reference

STATEMENTS = TREES.index("statements")


def commit_period(community: Community, transactor: Transactor, commitment: PeriodCommitment):
    """Send `PeriodLedger.commit` for the commitment; the receipt. A version that is not the next one
    fails before any gas is spent (ContractRevert VersionNotNext)."""
    ledger = community.contract("PeriodLedger")
    return transactor.transact(ledger.functions.commit(*commitment.ledger_args()))


@dataclass(frozen=True)
class Verification:
    ok: bool
    reason: str


def verify_reference(community: Community, reference: Mapping, statement_json: str | None = None) -> Verification:
    """Check a member's reference file (and its statement file, if given): the statement is the one
    committed, the entry hashes to its leaf, its proof leads to its root, and the ledger holds that root
    for the period and version on this chain."""
    if reference.get("chain_id") not in (None, community.deployment.chain_id):
        return Verification(False, f"the reference is for chain {reference['chain_id']}, "
                                   f"not {community.deployment.chain_id}")
    try:
        leaf = check_reference(reference, statement_json)
    except (ValueError, KeyError) as exc:
        return Verification(False, str(exc))
    ledger = community.contract("PeriodLedger")
    period, version = int(reference["period"]), int(reference["version"])
    latest = ledger.functions.latestVersion(period).call()
    if version > latest or version < 1:
        return Verification(False, f"period {period} version {version} is not committed on chain "
                                   f"(latest version: {latest})")
    proof = [bytes.fromhex(p[2:]) for p in reference["proof"]]
    if not ledger.functions.verify(period, version, STATEMENTS, leaf, proof).call():
        return Verification(False, f"the chain's statement root of period {period} version {version} "
                                   "does not hold this statement")
    note = "" if version == latest else f" (superseded: the latest version is {latest})"
    return Verification(True, f"statement of {reference['entry']['member']} for period {period} version "
                              f"{version} is committed on chain{note}")


@dataclass
class SettlementReport:
    collected: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    paid: dict[str, int] = field(default_factory=dict)
    unpaid: list[str] = field(default_factory=list)


def settle(community: Community, transactor: Transactor, period: int, version: int,
           items: Sequence[tuple[Entry, list[bytes]]], permit: Callable[[Entry, str], tuple | None] | None = None,
           batch: int = 50) -> SettlementReport:
    """Collect every debit of `items` (entries with their proofs) not collected yet, relaying a member's
    EIP-2612 permit when `permit(entry, spender)` gives one as (deadline, v, r, s), else from its
    allowance; then pay every creditor what the collections cover. A member whose transfer fails is
    reported and skipped; nothing stops the others."""
    settlement = community.contract("CollectiveSettlement")
    report = SettlementReport()
    debtors = [(e, p) for e, p in items if e.debit and not settlement.functions.collected(period, version, e.leaf()).call()]
    by_allowance = []
    for entry, proof in debtors:
        signed = permit(entry, settlement.address) if permit else None
        if signed is None:
            by_allowance.append((entry, proof))
            continue
        try:
            transactor.transact(settlement.functions.collectWithPermit(period, version, entry.as_tuple(), proof, *signed))
            report.collected.append(entry.member)
        except ContractRevert as exc:
            report.failed.append(f"{entry.member}: {exc}")
    for start in range(0, len(by_allowance), batch):
        chunk = by_allowance[start:start + batch]
        receipt = transactor.transact(settlement.functions.collectMany(
            period, version, [e.as_tuple() for e, _ in chunk], [p for _, p in chunk]))
        failed = {ev["args"]["account"] for ev in settlement.events.CollectionFailed().process_receipt(receipt, errors=DISCARD)}
        for entry, _ in chunk:
            (report.failed if to_checksum_address(entry.account) in failed else report.collected).append(entry.member)
    for entry, proof in items:
        if not entry.credit:
            continue
        try:
            receipt = transactor.transact(settlement.functions.pay(period, version, entry.as_tuple(), proof))
            (event,) = settlement.events.Paid().process_receipt(receipt, errors=DISCARD)
            report.paid[entry.member] = event["args"]["amount"]
        except ContractRevert as exc:
            if exc.name != "NothingToPay":
                raise
            report.unpaid.append(entry.member)
    return report


def pot(community: Community, period: int, version: int) -> tuple[int, int]:
    """(collected, paid) so far for a period version."""
    return tuple(community.contract("CollectiveSettlement").functions.pot(period, version).call())


def committed_versions(community: Community, periods: Sequence[int]) -> dict[int, int]:
    """The latest committed version of each period (0: none)."""
    ledger = community.contract("PeriodLedger")
    return {p: ledger.functions.latestVersion(p).call() for p in periods}
