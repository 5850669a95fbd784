"""Follows the chain into the store: block ranges from the cursor to head - confirmations,
each range written with its cursor in one transaction; short reorgs are detected from the
remembered block hashes and repaired by rolling back to the fork point and indexing again. An event
the store cannot write is recorded as poison (operator endpoint /api/operator/poison) and skipped:
no event can hold the cursor back."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from web3.exceptions import BlockNotFound

from daisee.chain import Community, EventReader
from viewer.store import Store

log = logging.getLogger("daisee.viewer.indexer")

# Events the viewer stores; other events (offers, rules, roles, approvals...) are skipped at the node.
INDEXED_EVENTS = (
    "MeterRegistered", "MeterOracleChanged", "MeterDeactivated", "MeterReplaced", "MeterReading",
    "BuyEnergy", "PurchaseSettled", "PurchaseSkipped", "Deposited", "Withdrawn", "Transfer",
    "PeriodCommitted", "RulesSet", "Collected", "Paid",
    "ProposalCreated", "VoteCast", "ProposalQueued", "ProposalExecuted", "ProposalCanceled",
)
# Further contracts whose events are indexed when the deployment has them (older deployments have none).
INDEXED_CONTRACTS = ("PeriodLedger", "CollectiveSettlement", "CommunityGovernor", "CommunityRules")
# Blocks whose timestamp is fetched: those carrying events the live feed shows with a time.
TIMED_EVENTS = {"BuyEnergy", "PurchaseSettled"}


class Indexer:
    def __init__(
        self,
        store: Store,
        community: Community,
        confirmations: int = 0,
        batch_blocks: int = 2000,
        reorg_depth: int = 64,
    ):
        self.store, self.community = store, community
        further = [name for name in INDEXED_CONTRACTS if name in community.deployment.contracts]
        self.reader = EventReader(community, INDEXED_EVENTS, contracts=further)
        self.w3 = community.w3
        self.confirmations, self.batch_blocks, self.reorg_depth = confirmations, batch_blocks, reorg_depth
        self.start_block = community.deployment.deployed_block
        self._node_written = (None, 0.0)  # (head, when) last written to the store

    def _saw_node(self, head: int) -> None:
        """Record the head and that the node answered (for the status badge): on a new head, or every
        few seconds while it stays the same, so that a frozen node shows as such."""
        now = time.time()
        if head != self._node_written[0] or now - self._node_written[1] >= 5:
            self.store.set_node(head, int(now))
            self._node_written = (head, now)

    def step(self) -> int:
        """Index at most one range; returns how many blocks it advanced (0 when caught up)."""
        head = self.reader.head()
        self._saw_node(head)
        target = head - self.confirmations
        cursor = self.store.cursor()
        if cursor is None:
            cursor = self.start_block - 1
        else:
            cursor = self._repair_reorg(cursor)
        if target <= cursor:
            return 0
        end = min(target, cursor + self.batch_blocks)
        events = self.reader.fetch(cursor + 1, end)
        hashes = {e.block_number: e.block_hash for e in events}
        block = self._block(end)
        hashes[end] = block["hash"].to_0x_hex() if block else None
        timestamps = {
            number: self.w3.eth.get_block(number)["timestamp"]
            for number in sorted({e.block_number for e in events if e.name in TIMED_EVENTS})
        }
        for p in self.store.apply(events, end, hashes, timestamps, keep_blocks=self.reorg_depth,
                                  chain_time=block["timestamp"] if block else None):
            log.error("skipped poison event %s at block %s log %s (tx %s), recorded for operators: %s",
                      p["name"], p["block_number"], p["log_index"], p["tx_hash"], p["error"])
        return end - cursor

    def catch_up(self) -> None:
        while self.step():
            pass

    def run(self, stop: threading.Event, interval: float, on_error: Callable[[Exception], None] | None = None) -> None:
        """Poll until `stop` is set; RPC errors are logged and retried (the node may restart)."""
        while not stop.is_set():
            try:
                advanced = self.step()
            except Exception as exc:  # noqa: BLE001 - a node restart must not kill the viewer
                log.warning("indexer: %s", exc)
                if on_error:
                    on_error(exc)
                advanced = 0
            if not advanced:
                stop.wait(interval)

    def _block(self, number: int):
        try:
            return self.w3.eth.get_block(number)
        except BlockNotFound:  # the chain got shorter in the reorg
            return None

    def _hash(self, number: int) -> str | None:
        block = self._block(number)
        return block["hash"].to_0x_hex() if block else None

    def _repair_reorg(self, cursor: int) -> int:
        """If the chain no longer has our recent blocks, roll back to the newest one it still has;
        returns the cursor to index from."""
        remembered = self.store.recent_blocks()
        if not remembered or self._hash(remembered[0][0]) == remembered[0][1]:
            return cursor
        fork = self.start_block - 1  # deeper than remembered: index everything again
        for number, block_hash in remembered[1:]:
            if self._hash(number) == block_hash:
                fork = number
                break
        log.warning("reorg: chain changed above block %s (cursor was %s); re-indexing", fork, cursor)
        self.store.rollback(fork)
        return fork
