"""Sign-in with an Ethereum key: the server hands out a challenge (EIP-191 personal_sign text with
domain, address, nonce and expiry), the wallet signs it, the server recovers the signer and issues a
short-lived random bearer token. Challenges and sessions live in memory: a restart signs everyone
out, which is acceptable for 15-minute sessions and keeps secrets off disk."""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable

from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

# Bounds so that anonymous challenge requests cannot grow memory without limit.
MAX_PENDING_CHALLENGES = 10_000
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Session:
    address: str
    operator: bool
    expires: float


class AuthError(Exception):
    pass


class Authenticator:
    def __init__(
        self,
        is_operator: Callable[[str], bool],
        domain: str,
        challenge_ttl: int = 300,
        session_ttl: int = 900,
        clock: Callable[[], float] = time.time,
    ):
        self.is_operator, self.domain = is_operator, domain
        self.challenge_ttl, self.session_ttl, self.clock = challenge_ttl, session_ttl, clock
        self._challenges: dict[str, tuple[str, float]] = {}
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def challenge(self, address: str) -> tuple[str, float]:
        """A fresh message for `address` to sign; replaces any earlier one for that address."""
        now = self.clock()
        expires = now + self.challenge_ttl
        nonce = secrets.token_hex(16)
        message = (
            f"{self.domain} wants you to sign in with your Ethereum account:\n{address}\n\n"
            f"Sign in to the DAISEE community viewer (read-only).\n\n"
            f"Nonce: {nonce}\nExpires: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expires))}"
        )
        with self._lock:
            self._prune(self._challenges, now, lambda v: v[1], MAX_PENDING_CHALLENGES)
            self._challenges[address] = (message, expires)
        return message, expires

    def verify(self, address: str, signature: str) -> tuple[str, Session]:
        """Check the signature of the pending challenge; returns (token, session). One use per challenge."""
        now = self.clock()
        with self._lock:
            pending = self._challenges.pop(address, None)
        if pending is None or pending[1] < now:
            raise AuthError("no pending challenge for this address (or it expired): ask for a new one")
        try:
            signer = Account.recover_message(encode_defunct(text=pending[0]), signature=signature)
        except Exception as exc:  # malformed signatures raise several different errors
            raise AuthError(f"malformed signature: {exc}") from exc
        if Web3.to_checksum_address(signer) != address:
            raise AuthError("signature is not from this address")
        session = Session(address, bool(self.is_operator(address)), now + self.session_ttl)
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._prune(self._sessions, now, lambda s: s.expires, MAX_SESSIONS)
            self._sessions[token] = session
        return token, session

    def session(self, token: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(token)
            if session is not None and session.expires < self.clock():
                del self._sessions[token]
                return None
        return session

    @staticmethod
    def _prune(table: dict, now: float, expiry: Callable, limit: int) -> None:
        for key in [k for k, v in table.items() if expiry(v) < now]:
            del table[key]
        while len(table) >= limit:  # still full of live entries: drop the oldest
            del table[next(iter(table))]


def contract_operator_check(exchange) -> Callable[[str], bool]:
    """Operator = holds OPERATOR_ROLE in the exchange contract, asked at sign-in (never a local list)."""
    role = Web3.keccak(text="OPERATOR_ROLE")  # the contract's constant: no call, so it starts with the node down
    return lambda address: exchange.functions.hasRole(role, address).call()
