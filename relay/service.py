"""The thin loop around the handler: read confirmed block ranges from the cursor, handle their
events, switch the board, save the state; fall back to every member's own source when the chain
cannot be read for `failsafe_after` seconds or something unexpected fails, and keep retrying.

Plain range polling (eth_blockNumber + eth_getLogs), not a log subscription: a dev chain that mines
no block for a while is simply "nothing new" here (ape's poll_logs gives up after 10 s of that)."""
from __future__ import annotations

import logging
import threading
import time

from daisee.chain import Community, EventReader
from relay.board import Board, make_board
from relay.config import RelaySettings
from relay.handler import apply, initial_state, own_supply
from relay.state import RelayState

log = logging.getLogger("daisee.relay")
EVENTS = ["BuyEnergy", "PurchaseSettled"]  # settlement at expiry is a PurchaseSettled with refunded > 0


class ChainUnreadable(Exception):
    """The node did not answer; tolerated for `failsafe_after` seconds."""


class Relay:
    def __init__(self, config: RelaySettings, board: Board | None = None, community: Community | None = None):
        self.config = config
        self.community = community or Community.open(config.chain)
        self.reader = EventReader(self.community, names=EVENTS, buyers=config.members)
        self.board = board or make_board(config)
        self.state = self._load_state()
        self.failsafe = False
        self.last_read = time.monotonic()
        self.outage_logged = False

    def _load_state(self) -> RelayState:
        exchange = self.community.exchange.address
        state = RelayState.load(self.config.state_file)
        if state is None:
            return initial_state(self.config, exchange, cursor=self.community.deployment.deployed_block - 1)
        if state.exchange != exchange:
            raise ValueError(f"{self.config.state_file} follows exchange {state.exchange}, not {exchange}: "
                             "move it away to start over on this deployment")
        # Members wired since the state was saved start on their own source.
        supply = {m: state.supply.get(m) or own_supply(self.config, m) for m in self.config.members}
        return state.model_copy(update={"supply": supply})

    def start(self) -> None:
        """Put the relays where the saved state says; this completes a switch saved just before a crash."""
        self.board.switch_all(self.state.supply, "startup")

    def step(self) -> bool:
        """Handle the next confirmed block range. Returns True when more confirmed blocks are waiting."""
        try:
            target = self.reader.head() - self.config.chain.confirmations
            cursor = self.state.cursor
            last = min(target, cursor + self.config.max_span)
            events = self.reader.fetch(cursor + 1, last)
        except Exception as exc:  # web3 raises many types for a node that is down or hung
            raise ChainUnreadable(str(exc)) from exc
        self._chain_read()
        if last <= cursor:
            return False
        for event in events:
            self._handle(event)
        self.state = self.state.model_copy(update={"cursor": last})
        self.state.save(self.config.state_file)
        return last < target

    def _handle(self, event) -> None:
        try:
            new_state, actions = apply(self.state, event, self.config)
        except Exception:  # one bad event must not stop the service
            log.exception("event %s in tx %s (block %s) skipped", event.name, event.tx_hash, event.block_number)
            return
        if new_state is not self.state:
            # Save before switching: a crash in between is completed by `start` on restart, whereas
            # switching first would switch again after a restart re-reads the range.
            new_state.save(self.config.state_file)
            self.state = new_state
        for action in actions:
            if action.kind == "switch":
                log.info("%s: %s", action.member, action.message)
                self.board.switch(action.member, action.supply, action.message)
            else:
                log.log(logging.ERROR if action.kind == "error" else logging.DEBUG, "%s: %s", action.member,
                        action.message)

    def _chain_read(self) -> None:
        self.last_read = time.monotonic()
        if self.outage_logged:
            log.info("chain readable again")
            self.outage_logged = False
        if self.failsafe:
            self.board.switch_all(self.state.supply, "recovered")
            self.failsafe = False
            log.warning("fail-safe over: supplies back as the contract decided")

    def enter_failsafe(self, why: str) -> None:
        if self.failsafe:
            return
        self.board.switch_all({m: own_supply(self.config, m) for m in self.config.members}, "failsafe")
        self.failsafe = True
        log.error("fail-safe: every member on its own source (%s)", why)

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set. Never returns on an error: it falls back to own sources and retries."""
        self.start()
        errors = 0
        while not stop.is_set():
            delay = self.config.chain.poll_interval
            try:
                more = self.step()
                errors = 0
                if more:
                    continue
            except ChainUnreadable as exc:
                if not self.outage_logged:
                    log.warning("chain unreadable at %s: %s", self.config.chain.rpc_url, exc)
                    self.outage_logged = True
                down = time.monotonic() - self.last_read
                if down >= self.config.failsafe_after:
                    self._failsafe_or_log(f"chain unreadable for {down:.1f} s")
            except Exception:
                log.exception("unexpected error")
                self._failsafe_or_log("unexpected error")
                # Back off so that a lasting fault (disk full, GPIO gone) does not click relays every poll.
                errors += 1
                delay = min(delay * 2**errors, self.config.failsafe_after)
            stop.wait(delay)

    def _failsafe_or_log(self, why: str) -> None:
        try:
            self.enter_failsafe(why)
        except Exception:
            log.exception("fail-safe switch failed; retrying")
