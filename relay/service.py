"""The thin loop around the handler: read confirmed block ranges from the cursor, handle their
events, switch the board, save the state; fall back to every member's own source when the chain
cannot be read for `failsafe_after` seconds or something unexpected fails, and keep retrying.

Plain range polling (eth_blockNumber + eth_getLogs), not a log subscription: a dev chain that mines
no block for a while is simply "nothing new" here (ape's poll_logs gives up after 10 s of that).

The chain is read on a worker thread and the loop waits for it one poll interval at a time, so the
fail-safe clock is checked on time whatever the node does (hang, answer a byte at a time, drop the
connection half-way). Only the loop's thread touches the board and the state."""
from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import Future, wait
from dataclasses import dataclass
from queue import SimpleQueue

from web3 import Web3

from daisee.chain import ChainEvent, Community, Deployment, EventReader, connect
from relay.board import Board, make_board
from relay.config import RelaySettings
from relay.handler import apply, initial_state, own_supply
from relay.state import RelayState

log = logging.getLogger("daisee.relay")
EVENTS = ["BuyEnergy", "PurchaseSettled"]  # settlement at expiry is a PurchaseSettled with refunded > 0


class ChainUnreadable(Exception):
    """The node did not answer; tolerated for `failsafe_after` seconds."""


@dataclass(frozen=True)
class Read:
    """One look at the chain: the confirmed blocks (cursor, last] of a head at `target`, and their events."""

    started: float  # time.monotonic() when the read began
    cursor: int
    target: int
    last: int
    events: list[ChainEvent]


class Relay:
    def __init__(self, config: RelaySettings, board: Board | None = None, community: Community | None = None):
        self.config = config
        # Without a community given, the connection is opened by the first read (`_reader`), not here:
        # Community.open asks the node its chain id, and a hung node must not hold the start.
        self.community = community
        self.reader: EventReader | None = None
        self.deployment = community.deployment if community else Deployment.load(config.chain.deployment)
        self.board = board or make_board(config)
        self.state = self._load_state()
        self.failsafe = False
        # The board shows the state's supplies: set by a read up to the head, cleared by the fail-safe.
        self.synced = False
        self.last_read = self._last_read_saved()
        self.outage_logged = False

    def _load_state(self) -> RelayState:
        exchange = Web3.to_checksum_address(self.deployment.exchange)
        state = RelayState.load(self.config.state_file)
        if state is None:
            # Every member starts on its own source: no outage to carry over.
            fresh = initial_state(self.config, exchange, cursor=self.deployment.deployed_block - 1)
            return fresh.model_copy(update={"last_read": time.time()})
        if state.exchange != exchange:
            raise ValueError(f"{self.config.state_file} follows exchange {state.exchange}, not {exchange}: "
                             "move it away to start over on this deployment")
        # Members wired since the state was saved start on their own source.
        supply = {m: state.supply.get(m) or own_supply(self.config, m) for m in self.config.members}
        return state.model_copy(update={"supply": supply})

    def _last_read_saved(self) -> float:
        """The saved time of the last good read on the monotonic clock: a restart continues the outage
        clock instead of starting it again. Unknown, or ahead of the wall clock (set back), counts as long ago."""
        age = time.time() - self.state.last_read if self.state.last_read is not None else math.inf
        return time.monotonic() - (age if age >= 0 else math.inf)

    def start(self) -> None:
        """The board's position before anything is read: a member stays on a seller only where the board
        already has it and the saved state agrees; every other member goes to its own source. Seller
        supplies are (re)applied only once the chain has been read up to its head (`_advance`), which also
        completes a switch saved just before a crash if the purchase is still open then."""
        self.board.switch_all({m: s if self.board.supply.get(m) == s else own_supply(self.config, m)
                               for m, s in self.state.supply.items()}, "startup")

    def step(self) -> bool:
        """Read and handle the next confirmed block range. Returns True when more confirmed blocks are waiting."""
        return self._advance(self._read(self.state.cursor))

    def _reader(self) -> EventReader:
        if self.reader is None:
            if self.community is None:
                w3 = connect(self.config.chain)
                # The loop is the retry: web3's own (5 attempts with back-off) made one read of a hung
                # node last 5 x request_timeout + 1.9 s.
                w3.provider.exception_retry_configuration = None
                self.community = Community.open(self.config.chain, w3)
            self.reader = EventReader(self.community, names=EVENTS, buyers=self.config.members)
        return self.reader

    def _read(self, cursor: int) -> Read:
        """The chain part of a step, no board or state: in `run`, on the worker thread."""
        started = time.monotonic()
        try:
            reader = self._reader()
            target = reader.head() - self.config.chain.confirmations
            last = min(target, cursor + self.config.max_span)
            events = reader.fetch(cursor + 1, last)
        except Exception as exc:  # web3 raises many types for a node that is down or hung
            raise ChainUnreadable(str(exc)) from exc
        return Read(started, cursor, target, last, events)

    def _advance(self, read: Read) -> bool:
        # An answer slower than the fail-safe allows is old news: its events are recorded, but it neither
        # ends an outage nor puts anyone on a seller (a node answering every minute would flap the relays).
        fresh = time.monotonic() - read.started < self.config.failsafe_after
        if fresh:
            self._chain_read()
        caught_up = read.last >= read.target
        # Until the chain is read up to its head, the safe state is the state: events may send members to
        # their own source, never to a seller (the purchase may have settled in a block not read yet).
        to_seller = fresh and caught_up
        update = {}
        if read.last > read.cursor:
            for event in read.events:
                self._handle(event, to_seller)
            update["cursor"] = read.last
        # The read time is saved with the cursor, or alone now and then, not every poll (SD cards): a
        # restart may so count an outage up to failsafe_after / 4 too long, the safe side.
        if fresh and (update or time.time() - (self.state.last_read or 0) >= self.config.failsafe_after / 4):
            update["last_read"] = time.time()
        if update:
            self.state = self.state.model_copy(update=update)
            self.state.save(self.config.state_file)
        if to_seller and not self.synced:
            self.board.switch_all(self.state.supply, "caught up")
            self.synced = True
            if self.failsafe:
                self.failsafe = False
                log.warning("fail-safe over: supplies back as the contract decided")
        return not caught_up

    def _handle(self, event, to_seller: bool) -> None:
        try:
            new_state, actions = apply(self.state, event, self.config)
        except Exception:  # one bad event must not stop the service
            log.exception("event %s in tx %s (block %s) skipped", event.name, event.tx_hash, event.block_number)
            return
        if new_state is not self.state:
            # Save before switching: a crash in between is completed once caught up after the restart,
            # whereas switching first would switch again after a restart re-reads the range.
            new_state.save(self.config.state_file)
            self.state = new_state
        for action in actions:
            if action.kind == "switch" and (to_seller or action.supply.source == "own"):
                log.info("%s: %s", action.member, action.message)
                self.board.switch(action.member, action.supply, action.message)
            elif action.kind == "switch":
                log.info("%s: %s (once caught up)", action.member, action.message)
            else:
                log.log(logging.ERROR if action.kind == "error" else logging.DEBUG, "%s: %s", action.member,
                        action.message)

    def _chain_read(self) -> None:
        self.last_read = time.monotonic()
        if self.outage_logged:
            log.info("chain readable again")
            self.outage_logged = False

    def enter_failsafe(self, why: str) -> None:
        self.synced = False
        if self.failsafe:
            return
        self.board.switch_all({m: own_supply(self.config, m) for m in self.config.members}, "failsafe")
        self.failsafe = True
        log.error("fail-safe: every member on its own source (%s)", why)

    def _read_worker(self, reads: SimpleQueue) -> None:
        """Carries out `run`'s reads, (cursor, future) from `reads` until None. One thread, so that web3
        keeps its connection (it has one per thread); a daemon, so that a read stuck on a node does not
        keep the process from exiting."""
        while (job := reads.get()) is not None:
            cursor, future = job
            try:
                future.set_result(self._read(cursor))
            except BaseException as exc:
                future.set_exception(exc)

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set. Never returns on an error: it falls back to own sources and retries."""
        self.start()
        reads: SimpleQueue = SimpleQueue()
        threading.Thread(target=self._read_worker, args=(reads,), name="relay-read", daemon=True).start()
        errors = 0
        pending: Future | None = None
        try:
            while not stop.is_set():
                down = time.monotonic() - self.last_read
                if down >= self.config.failsafe_after:
                    self._failsafe_or_log(f"chain unreadable for {down:.1f} s")
                if pending is None:
                    pending = Future()
                    reads.put((self.state.cursor, pending))
                # At most a poll interval on a read, then the clock above again, however long the read takes.
                wait([pending], timeout=self.config.chain.poll_interval)
                if not pending.done():
                    continue
                delay = self.config.chain.poll_interval
                try:
                    more = self._advance(pending.result())
                    errors = 0
                    if more:
                        delay = 0
                except ChainUnreadable as exc:
                    if not self.outage_logged:
                        log.warning("chain unreadable at %s: %s", self.config.chain.rpc_url, exc)
                        self.outage_logged = True
                except Exception:
                    log.exception("unexpected error")
                    self._failsafe_or_log("unexpected error")
                    # Back off so that a lasting fault (disk full, GPIO gone) does not click relays every poll.
                    errors += 1
                    delay = min(delay * 2**errors, self.config.failsafe_after)
                pending = None
                stop.wait(delay)
        finally:
            reads.put(None)  # the worker ends after the read it may be stuck in

    def _failsafe_or_log(self, why: str) -> None:
        try:
            self.enter_failsafe(why)
        except Exception:
            log.exception("fail-safe switch failed; retrying")
