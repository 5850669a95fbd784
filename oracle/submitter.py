"""Batched, exactly-once submission of the queue to `submitReadings`.

The chain's `meter(id).seq` is the truth: before sending (at start and after any error) the
queue is reconciled with it, so a batch that landed before a crash is never sent twice and one
that did not is sent again. Errors are either permanent for one meter (it is stopped, with the
reason in the status, instead of looping) or transient (retried with capped exponential backoff).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from web3 import Web3

from daisee.chain import CallCodec, Community, ContractRevert, Transactor
from oracle.clock import Clock
from oracle.readings import Reading
from oracle.store import Store

log = logging.getLogger(__name__)

# Reverts that retrying cannot fix: the meter's registration or its data is wrong.
PERMANENT = {"UnknownMeter", "WrongOracle", "CounterDecreased", "TimestampBeforeLast", "SocOutOfRange"}
# The chain already has this seq (a batch landed before we saw its receipt): reconcile, not an error.
ALREADY_ON_CHAIN = {"SeqNotIncreasing"}


PATH_HEADROOM = 100_000  # a rule-triggered purchase or a settlement, over a plain reading (bench/gas.py)
MAX_HEADROOM = 5_000_000


class SubmitReadingsCall:
    """`exchange.functions.submitReadings(batch)` with its calldata encoded once by eth_abi.
    web3's own encoder walks every field of every reading through generic formatters, three
    times per transaction (estimate, build, sign): ~0.3 s for 400 readings on a desktop, far more
    on a Pi. Quacks like a contract function for Transactor.send."""

    def __init__(self, w3: Web3, exchange: str, codec: CallCodec, batch: list[Reading]):
        self.w3, self.to = w3, exchange
        self.readings = len(batch)
        self.data = "0x" + codec.encode([[r.packed() for r in batch]]).hex()

    def estimate_gas(self, params: dict) -> int:
        # The estimate runs against the state before other oracles' readings land in the same block:
        # a reading estimated on its cheap path (rule skipped) may take the purchase or settlement
        # path once mined. Unused gas is not paid; an out-of-gas batch is, and is sent again.
        headroom = min(PATH_HEADROOM * self.readings, MAX_HEADROOM)
        return self.w3.eth.estimate_gas({**params, "to": self.to, "data": self.data}) + headroom

    def build_transaction(self, params: dict) -> dict:
        return {**params, "to": self.to, "data": self.data, "value": 0}


@dataclass
class Backoff:
    initial: float
    maximum: float
    delay: float = 0.0
    not_before: float = 0.0

    def failed(self, now: float) -> float:
        self.delay = min(self.maximum, self.delay * 2 if self.delay else self.initial)
        self.not_before = now + self.delay
        return self.delay

    def succeeded(self) -> None:
        self.delay, self.not_before = 0.0, 0.0


class Submitter:
    def __init__(self, store: Store, community: Community, transactor: Transactor, batch, retry, clock: Clock):
        self.store, self.community, self.tx = store, community, transactor
        self.batch, self.clock = batch, clock
        self.backoff = Backoff(retry.initial_s, retry.max_s)
        self.needs_reconcile = True
        self.last_error: str | None = None
        self.sent_total = 0
        self.codec = CallCodec(community.exchange, "submitReadings")  # from the deployment's ABI

    def reconcile(self) -> None:
        for meter_id in self.store.pending_meters():
            chain_seq = self.community.meter(meter_id).seq
            marked = self.store.reconcile(meter_id, chain_seq)
            if marked:
                log.info("meter %d: %d queued readings already on chain (seq <= %d)", meter_id, marked, chain_seq)
        self.needs_reconcile = False

    def due(self, force: bool = False) -> bool:
        now = self.clock.now()
        if now < self.backoff.not_before:
            return False
        count, oldest = self.store.pending_summary()
        if count and (force or count >= self.batch.max_readings):
            return True
        return oldest is not None and now - oldest >= self.batch.max_seconds

    def flush(self, force: bool = False) -> int:
        """Send what is due; returns how many readings the chain accepted. Never raises for
        chain or network errors: they are logged, kept in the status and retried later."""
        if not self.due(force):
            return 0
        try:
            if self.needs_reconcile:
                self.reconcile()
            sent = self._send_pending()
        except ContractRevert as exc:
            self._on_revert(exc)
            return 0
        except Exception as exc:  # connection refused, timeouts, nonce races: all transient
            self._transient(f"{type(exc).__name__}: {exc}")
            return 0
        self.backoff.succeeded()
        self.last_error = None
        return sent

    def _send_pending(self) -> int:
        size = self.batch.max_readings
        rows = self.store.pending(size * self.batch.in_flight)
        batches = [rows[i:i + size] for i in range(0, len(rows), size)]
        self._current: list[Reading] = []
        in_flight = []
        for batch in batches:
            self._current = batch
            call = SubmitReadingsCall(self.community.w3, self.community.exchange.address, self.codec, batch)
            in_flight.append((batch, self.tx.send(call)))
        sent = 0
        for batch, tx_hash in in_flight:
            self._current = batch
            self.tx.wait(tx_hash)
            self.store.mark_sent(batch, tx_hash.hex())
            sent += len(batch)
        self.sent_total += sent
        return sent

    def _on_revert(self, exc: ContractRevert) -> None:
        index = exc.fields.get("index")
        batch = getattr(self, "_current", [])
        meter_id = batch[index].meter_id if index is not None and index < len(batch) else None
        self.needs_reconcile = True
        self.tx.resync()
        if exc.name in ALREADY_ON_CHAIN:
            log.info("meter %s: chain already has seq %s, reconciling", meter_id, exc.fields.get("seq"))
            return
        if exc.name in PERMANENT and meter_id is not None:
            reason = f"stopped: {exc} (fix the meter's registration/key, then restart the oracle)"
            log.error("meter %d: permanent revert %s: %s", meter_id, exc, reason)
            self.store.stop(meter_id, reason)
            self.last_error = f"meter {meter_id}: {exc}"
            return
        self._transient(f"revert {exc}")

    def _transient(self, message: str) -> None:
        self.needs_reconcile = True
        self.tx.resync()
        delay = self.backoff.failed(self.clock.now())
        self.last_error = message
        log.warning("submission failed (%s); retrying in %.1f s", message, delay)
