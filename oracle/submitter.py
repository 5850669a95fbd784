"""Batched, exactly-once submission of the queue to `submitReadings`.

The chain's `meter(id).seq` is the truth: before sending (at start, after any error and after a
rollback) the queue is reconciled with it, so a batch that landed before a crash is never sent
twice, one that did not is sent again, and readings a rollback took off the chain go back to the
queue. A row is final once its block is `chain.confirmations` deep; until then, and for the newest
block after, the blocks holding our readings are watched for a rollback.

A batch the contract refuses never blocks the gateway: a revert naming one reading quarantines it
(its values are wrong) or stops its meter (its registration or state is wrong); a revert the
oracle cannot decode is narrowed down to the failing readings by `eth_call` on halves of the
batch. Only what concerns every meter (the key is no gateway, the contract is paused, the node is
down) holds the whole queue: stopped, or retried with capped exponential backoff.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_abi import decode as abi_decode
from web3.exceptions import BlockNotFound

from daisee.chain import CallCodec, Community, ContractRevert, Transactor, error_decoder, read_many
from oracle.clock import Clock
from oracle.readings import Reading
from oracle.store import Store

log = logging.getLogger(__name__)

# Reverts naming one reading (their `index`), by what is wrong:
QUARANTINE = {"SocOutOfRange", "MalformedReading"}  # its own values: the meter's next reading is fine
# The meter's registration, or its local state against the chain's: every later reading would fail
# the same way, so the meter waits (nothing lost) until an operator fixes it and restarts the oracle.
STOP = {"UnknownMeter", "WrongOracle", "CounterDecreased", "TimestampBeforeLast", "SeqStepTooLarge"}

# A reading that settles its meter's open purchase and lets its rule buy again costs ~57 000 gas more
# than a plain one (bench/gas.py "worst reading: settles and buys, marginal").
TRIGGER_HEADROOM = 60_000
TRIGGER_CACHE_S = 300.0  # rules and open purchases change by members' own transactions: re-read this often
PANIC, ERROR_STRING = "4e487b71", "08c379a0"


class Reverted(Exception):
    """The node ran a call of `submitReadings` and it reverted with `data` (hex, "0x" when empty)."""

    def __init__(self, data: str, message: str):
        super().__init__(message)
        self.data = data


def describe_revert(data: str) -> str:
    """What a revert the exchange's ABI does not know is, for the quarantine reason."""
    raw = data.removeprefix("0x")
    if not raw:
        return "revert without data"
    if raw[:8] == PANIC and len(raw) >= 72:
        return f"Panic(0x{int(raw[8:72], 16):02x})"
    if raw[:8] == ERROR_STRING:
        try:
            return f"Error({abi_decode(['string'], bytes.fromhex(raw[8:]))[0]!r})"
        except Exception:  # malformed: the selector is all there is to tell
            return "Error(string) with malformed data"
    return f"unknown error selector 0x{raw[:8]}"


class SubmitReadingsCall:
    """`submitReadings` calldata encoded once (eth_abi, not web3's per-field formatters), in the
    shape Transactor.send builds a transaction from."""

    def __init__(self, to: str, data: str):
        self.to, self.data = to, data

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
    def __init__(self, store: Store, community: Community, transactor: Transactor, batch, retry, clock: Clock,
                 confirmations: int = 0):
        self.store, self.community, self.tx = store, community, transactor
        self.batch, self.retry, self.clock, self.confirmations = batch, retry, clock, confirmations
        self.backoff = Backoff(retry.initial_s, retry.max_s)
        self.needs_reconcile = True
        self.last_error: str | None = None
        self.sent_total = 0
        self.codec = CallCodec(community.exchange, "submitReadings")  # from the deployment's ABI
        self.decode = error_decoder(community.exchange, community.token)
        self.max_batch = batch.max_readings  # capped by the contract's MAX_BATCH at the first reconcile
        self.contract_max_batch: int | None = None
        self.triggers: set[int] = set()  # meters whose readings may take the purchase/settlement path
        self.triggers_at = float("-inf")
        self.generous_gas = False  # after a failed receipt: trigger headroom for every reading once
        self.held: dict[int, float] = {}  # meter -> oracle time before which it is not sent
        self.paused = False
        self.last_gas: tuple[int, int] | None = None  # (estimate, limit) of the last batch sent

    # ------------------------------------------------------------------ chain state

    def check_chain(self) -> None:
        """Cheap rollback check, then finality: every block still watched must be on the chain with
        the hash its receipt (or the last reconciliation) saw; rows confirmed deep enough are final."""
        watched = self.store.watched_blocks()
        if not watched:
            return
        head = self.community.w3.eth.block_number
        for number, block_hash in watched:
            if number > head or self._block_hash(number) != block_hash:
                log.warning("chain rollback: block %d that held our readings is %s (head %d): reconciling",
                            number, "gone" if number > head else "replaced", head)
                self.needs_reconcile = True
                self.tx.resync()
                return
        self.store.finalize(head - self.confirmations)

    def _block_hash(self, number: int) -> str | None:
        try:
            return self.community.w3.eth.get_block(number)["hash"].to_0x_hex()
        except BlockNotFound:
            return None

    def reconcile(self) -> None:
        """Compare every meter's seq on chain with the queue (marks sent what the chain has, queues
        again what it lost) and refresh what the batches need to know of the contract."""
        ids = self.store.meter_ids()
        infos = self.community.meters(ids) if ids else []
        head = self.community.w3.eth.get_block("latest")  # read after the seqs: they are at or below it
        changed = self.store.reconcile({m: info.seq for m, info in zip(ids, infos)}, head["number"],
                                       head["hash"].to_0x_hex())
        for meter_id, (marked, lost) in changed.items():
            if marked:
                log.info("meter %d: %d queued readings already on chain", meter_id, marked)
            if lost:
                log.warning("meter %d: %d readings marked sent are no longer on chain (rollback): queued again",
                            meter_id, lost)
        self.refresh_triggers(ids, infos)
        if self.contract_max_batch is None:
            self.contract_max_batch = self.community.exchange.functions.MAX_BATCH().call()
            if self.batch.max_readings > self.contract_max_batch:
                log.warning("batch.max_readings %d above the contract's MAX_BATCH: batches of %d",
                            self.batch.max_readings, self.contract_max_batch)
            self.max_batch = min(self.max_batch, self.contract_max_batch)
        self.needs_reconcile = False

    def refresh_triggers(self, ids: list[int] | None = None, infos: list | None = None) -> None:
        """A meter's readings can buy (a rule with a threshold) or settle (an open purchase, possibly
        bought by hand from a rule's sellers); only those get gas headroom beyond the estimate."""
        if ids is None:
            ids = self.store.meter_ids()
            infos = self.community.meters(ids) if ids else []
        rules = read_many(self.community.exchange, "ruleOf", [[info.owner] for info in infos]) if infos else []
        self.triggers = {m for m, info, (threshold, _, _, sellers, _) in zip(ids, infos, rules)
                         if threshold or sellers or info.openPurchaseId}
        self.triggers_at = self.clock.now()

    def gas_limit(self, estimate: int, batch: list[Reading]) -> int:
        """The estimate ran on the state before other oracles' readings in the same block: a reading
        estimated on its cheap path may buy or settle once mined. Unused gas is not paid, but a block
        (6 M gas on the seed's PoA chain) only takes transactions whose whole limit fits."""
        triggers = len(batch) if self.generous_gas else sum(r.meter_id in self.triggers for r in batch)
        # +10 %: the cheap path touches only our own meters' slots, its cost barely moves once mined
        return estimate + estimate // 10 + TRIGGER_HEADROOM * triggers

    # ------------------------------------------------------------------ flushing

    def retry_now(self) -> None:
        """Forget backoff and held meters: the cause is known to be repaired (a node back up, the
        chain's clock set right)."""
        self.backoff.succeeded()
        self.held.clear()

    def due(self, force: bool = False) -> bool:
        now = self.clock.now()
        if now < self.backoff.not_before:
            return False
        count, oldest = self.store.pending_summary()
        if count and (force or count >= self.max_batch):
            return True
        return oldest is not None and now - oldest >= self.batch.max_seconds

    def flush(self, force: bool = False) -> int:
        """Send what is due; returns how many readings the chain accepted. Never raises for
        chain or network errors: they are logged, kept in the status and retried later."""
        if not self.due(force):
            return 0
        try:
            self.check_chain()
            if self.needs_reconcile:
                self.reconcile()
            elif self.clock.now() - self.triggers_at > TRIGGER_CACHE_S:
                self.refresh_triggers()
            sent = self._send_pending()
        except ContractRevert as exc:
            self._on_batch_revert(exc)
            return 0
        except Exception as exc:  # connection refused, timeouts, nonce races: all transient
            self._transient(f"{type(exc).__name__}: {exc}")
            return 0
        if self.paused:
            log.info("exchange no longer paused: submitting again")
        self.backoff.succeeded()
        self.last_error, self.paused = None, False
        return sent

    def _send_pending(self) -> int:
        """One round: up to `in_flight` batches sent, then their receipts. A batch the contract refuses
        for some of its readings or meters is sorted out and the round starts again without them."""
        sent = 0
        for _ in range(self.max_batch * self.batch.in_flight + 2):  # each pass sends, or removes a reading/meter
            now = self.clock.now()
            self.held = {m: t for m, t in self.held.items() if t > now}
            rows = self._packable(self.store.pending(self.max_batch * self.batch.in_flight, exclude=self.held))
            if not rows:
                return sent
            in_flight, refused = [], None
            for i in range(0, len(rows), self.max_batch):
                batch = rows[i:i + self.max_batch]
                try:
                    in_flight.append((batch, self._send(batch)))
                except Reverted as exc:
                    refused = (batch, exc)
                    break
            for batch, tx_hash in in_flight:
                try:
                    receipt = self.tx.wait(tx_hash)
                except ContractRevert:  # mined and failed: out of gas, or state changed since the estimate
                    self.generous_gas = True
                    raise
                self.store.mark_sent(batch, tx_hash.to_0x_hex(), receipt["blockNumber"],
                                     receipt["blockHash"].to_0x_hex())
                sent += len(batch)
                self.sent_total += len(batch)
                self.generous_gas = False
            if refused is None:
                return sent
            self._resolve(*refused)
        return sent

    def _packable(self, rows: list[Reading]) -> list[Reading]:
        """The rows that fit the contract's reading word; the others are quarantined before any send."""
        fit = []
        for reading in rows:
            try:
                reading.packed()
                fit.append(reading)
            except ValueError as exc:
                self._quarantine(reading, f"does not fit the reading word: {exc}", None)
        return fit

    def _calldata(self, batch: list[Reading]) -> str:
        return "0x" + self.codec.encode([[r.packed() for r in batch]]).hex()

    def _rpc(self, method: str, data: str):
        """eth_call / eth_estimateGas of `data` from our key, raw: the revert data is kept whatever it
        is (web3 raises a different exception type per kind of revert, some without the data)."""
        tx = {"from": self.tx.address, "to": self.community.exchange.address, "data": data}
        # on the latest block, as web3 does: its timestamp is the chain's, whatever the node's own clock says
        response = self.community.w3.provider.make_request(method, [tx, "latest"])
        error = response.get("error")
        if error is None:
            return response["result"]
        message = str(error.get("message", error))
        if error.get("code") == 3 or "revert" in message.lower():
            raise Reverted(error.get("data") or "0x", message)
        raise RuntimeError(f"{method}: {message}")  # not the contract's answer: transient

    def _send(self, batch: list[Reading]) -> bytes:
        """Estimate (which surfaces reverts before spending gas), then sign and send."""
        data = self._calldata(batch)
        estimate = int(self._rpc("eth_estimateGas", data), 16)
        gas = self.gas_limit(estimate, batch)
        self.last_gas = (estimate, gas)
        return self.tx.send(SubmitReadingsCall(self.community.exchange.address, data), gas=gas)

    # ------------------------------------------------------------------ refused batches

    def _resolve(self, batch: list[Reading], exc: Reverted) -> None:
        """Take out of the way what made `batch` revert, or raise when it concerns every meter."""
        revert = self.decode(exc.data)
        if revert is not None:
            if revert.name == "BatchTooLarge":
                self.max_batch = min(self.max_batch, int(revert.fields["max"]))
                log.warning("contract refuses batches above %d readings: batches of %d", revert.fields["max"],
                            self.max_batch)
                return
            index = revert.fields.get("index")
            reading = batch[index] if isinstance(index, int) and index < len(batch) else None
            if reading is None and revert.name in ("NotAGateway", "EnforcedPause"):
                raise revert
            if reading is not None and self._per_reading(reading, revert):
                return
        if len(batch) == 1:
            reason = str(revert) if revert is not None else describe_revert(exc.data)
            self._quarantine(batch[0], f"reverted: {reason}", exc.data)
            return
        # Not decoded, or not one we know what to do with: narrow it down by halves, each reverting
        # half sorted out the same way (a half passing alone is fine: seq gaps are valid).
        found = False
        for half in (batch[:len(batch) // 2], batch[len(batch) // 2:]):
            try:
                self._rpc("eth_call", self._calldata(half))
            except Reverted as inner:
                found = True
                self._resolve(half, inner)
        if not found:  # reverts whole but no part does: a state race since the estimate, try again
            raise RuntimeError(f"batch reverted ({exc}) but none of its halves does")

    def _per_reading(self, reading: Reading, revert: ContractRevert) -> bool:
        """Handle a revert naming `reading`; False when it is not one of those."""
        meter_id = reading.meter_id
        if revert.name in QUARANTINE:
            self._quarantine(reading, f"reverted: {revert}", revert.raw)
        elif revert.name in STOP:
            reason = f"stopped: {revert} (fix the meter's registration/key, then restart the oracle)"
            log.error("meter %d: %s", meter_id, reason)
            self.store.stop(meter_id, reason)
            self.last_error = f"meter {meter_id}: {revert}"
        elif revert.name == "SeqNotIncreasing":
            chain_seq = self.community.meter(meter_id).seq
            if chain_seq >= reading.seq:  # it landed before we saw its receipt
                log.info("meter %d: chain already has seq %d, reconciling", meter_id, chain_seq)
                self.reconcile()
            else:
                self._quarantine(reading, f"reverted: {revert} although the chain's seq is {chain_seq}",
                                 revert.raw)
        elif revert.name == "TimestampInFuture":  # the meter's clock is ahead: its readings wait, not the others'
            wait = revert.fields["timestamp"] - revert.fields["latestAllowed"] + 1
            delay = min(self.retry.max_s, max(self.retry.initial_s, wait))
            log.warning("meter %d: %s; holding its readings %.0f s", meter_id, revert, delay)
            self.held[meter_id] = self.clock.now() + delay
        else:
            return False
        return True

    def _quarantine(self, reading: Reading, reason: str, revert_data: str | None) -> None:
        log.error("meter %d: reading seq %d quarantined: %s", reading.meter_id, reading.seq, reason)
        self.store.quarantine_reading(reading, reason, revert_data, self.clock.now())

    def _on_batch_revert(self, exc: ContractRevert) -> None:
        if exc.name == "NotAGateway":
            reason = (f"stopped: {exc}: key {self.tx.address} is no gateway of this exchange (register a meter "
                      "read by it), then restart the oracle")
            log.error("%s", reason)
            self.store.stop_all(reason)
            self.last_error = reason
            return
        if exc.name == "EnforcedPause":  # an operator's decision, not a fault: one line, then quiet retries
            if not self.paused:
                log.warning("exchange paused: readings stay queued, retrying with backoff")
            self.paused = True
            self.backoff.failed(self.clock.now())
            self.last_error = "exchange paused"
            return
        self._transient(f"revert {exc}")

    def _transient(self, message: str) -> None:
        self.needs_reconcile = True
        self.tx.resync()
        delay = self.backoff.failed(self.clock.now())
        self.last_error = message
        log.warning("submission failed (%s); retrying in %.1f s", message, delay)
