"""Period commitments: the Merkle trees of a month of 1 000 members and their proofs, and the gas of
committing a period and settling it per member on a real anvil.

    python -m bench collective_commit
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench import Figure

MEMBERS, STEPS = 1_000, 1_488  # a 31-day month of half-hours
BATCH = 50


def run() -> list[Figure]:
    return trees() + gas()


def trees() -> list[Figure]:
    from collective.commit import Salts, inputs_tree
    from collective.curves import Curves

    rng = np.random.default_rng(1)
    index = pd.date_range("2025-07-01 00:30", periods=STEPS, freq="30min", tz="UTC")
    consumption = Curves(index, tuple(f"{i}:consumption" for i in range(MEMBERS)),
                         rng.gamma(2.0, 0.15, (STEPS, MEMBERS)), pd.Timedelta("30min"))
    production = Curves(index, (), np.zeros((STEPS, 0)), pd.Timedelta("30min"))
    with tempfile.TemporaryDirectory() as tmp:
        salts = Salts(Path(tmp) / "salts.json")
        for m in consumption.meters:
            salts.of(m)
        started = time.perf_counter()
        tree = inputs_tree(production, consumption, salts)
        built = time.perf_counter() - started
        proofs = 0
        for member in range(MEMBERS):  # every leaf's proof, member by member (rows are meter-major)
            siblings, depths = tree.proofs(np.arange(member * STEPS, (member + 1) * STEPS))
            proofs += len(depths)
        total = time.perf_counter() - started
    assert proofs == MEMBERS * STEPS
    return [
        Figure("tree of 1 000 x 1 488 leaves", built, "s", note="inputs tree, salted, OZ StandardMerkleTree"),
        Figure("tree + every proof (1.49 M)", total, "s", "<= 20"),
    ]


def gas() -> list[Figure]:
    from eth_account import Account

    from collective.commit import STATEMENT_TYPES, Entry
    from collective.merkle import StandardMerkleTree
    from daisee.chain import Community, Transactor
    from tests.support.anvil import AnvilNode, CommunityAdmin

    with tempfile.TemporaryDirectory() as tmp:
        node = AnvilNode(Path(tmp) / "anvil").start()
        try:
            community = Community.open(node.settings(node.deploy(Path(tmp) / "local.json")))
            admin = CommunityAdmin(community)
            pmo = admin.operator  # the deployer: admin, minter and PMO (committer)
            ledger, settlement = community.contract("PeriodLedger"), community.contract("CollectiveSettlement")
            debtors = [Account.create() for _ in range(2 * BATCH)]
            creditors = [Account.create() for _ in range(4)]
            amount = 10**18
            entries = [Entry(f"c{i}", a.address, amount, 0, bytes(32), a.key[:32]) for i, a in enumerate(debtors)]
            share = len(debtors) * amount // len(creditors)
            entries += [Entry(f"p{i}", a.address, 0, share, bytes(32), a.key[:32]) for i, a in enumerate(creditors)]
            tree = StandardMerkleTree.of(STATEMENT_TYPES, [e.values() for e in entries])
            for a in debtors:
                pmo.send_value(a.address, 10**17)
                admin.mint(a, amount)
                Transactor(community, a).transact(community.token.functions.approve(settlement.address, amount))
            period = int(pd.Timestamp.now(tz="UTC").strftime("%Y%m"))
            total = len(debtors) * amount
            commit = pmo.transact(ledger.functions.commit(period, 1, (b"\x01" * 32, b"\x02" * 32, tree.root, total,
                                                                      1, 0)))["gasUsed"]
            one = pmo.transact(settlement.functions.collect(period, 1, entries[0].as_tuple(), tree.proof_of_row(0)))
            rows = range(1, BATCH + 1)
            many = pmo.transact(settlement.functions.collectMany(
                period, 1, [entries[i].as_tuple() for i in rows], [tree.proof_of_row(i) for i in rows]))
            creditor_row = len(debtors)
            pay = pmo.transact(settlement.functions.pay(period, 1, entries[creditor_row].as_tuple(),
                                                        tree.proof_of_row(creditor_row)))
            verify = ledger.functions.verify(period, 1, 2, entries[0].leaf(), tree.proof_of_row(0)).estimate_gas()
        finally:
            node.stop()
    members = len(entries)
    return [
        Figure("commit a period version", commit, "gas", note="three roots, totals, rules version"),
        Figure("collect one debit", one["gasUsed"], "gas", note=f"proof of {len(tree.proof_of_row(0))} nodes, "
               f"{members} members"),
        Figure(f"collect in a batch of {BATCH}", many["gasUsed"] / BATCH, "gas/member"),
        Figure("pay one credit", pay["gasUsed"], "gas"),
        Figure("verify a statement leaf (eth_call)", verify, "gas"),
    ]
