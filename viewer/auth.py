"""Sign-in with Ethereum (EIP-4361, through the `siwe` package): the server hands out a SIWE message
(domain, address, URI, chain id, nonce, issued-at, expiry), any wallet signs it (`personal_sign`, a
pasted signature, or `daisee-viewer sign` on the member's machine), the server checks it and issues a
short-lived random bearer token.

Challenges keep no server state: the nonce carries an HMAC of (address, expiry) under a per-process
secret, so nobody can replace, consume or evict another address's pending challenge, and anonymous
challenge requests cost no memory. A nonce is remembered only once it signed someone in (single
use); a failed verification (bad signature, node down) leaves the message usable until it expires.

Roles come from the contracts only (`hasRole` on the exchange): asked at sign-in with a short
timeout (a silent node gives 503, not a hung request) and asked again before a privileged answer
once `role_ttl` has passed, so a revoked role stops working within `role_ttl` seconds. Sessions live
in memory: a restart signs everyone out; `logout` ends one on the server.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable, Iterable

from web3 import Web3


def _import_siwe():
    """siwe 4.4's RFC 5234 grammar redefines the ABNF core rules (ALPHA, DIGIT...) with identical
    ones: abnf < 2.9 (pinned in the viewer extra) accepts that with a warning, which is not ours to show."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import siwe
    return siwe


siwe = _import_siwe()
SiweMessage = siwe.SiweMessage

MAX_SESSIONS = 10_000
MAX_USED_NONCES = 100_000
STATEMENT = "Sign in to the DAISEE community viewer (read-only)."
OPERATOR_ROLE = Web3.keccak(text="OPERATOR_ROLE")  # the PMO / energy provider: the exchange's operators
GRID_OPERATOR_ROLE = Web3.keccak(text="GRID_OPERATOR_ROLE")  # granted on the exchange by its admin
ROLE_NAMES = {"operator": OPERATOR_ROLE, "grid": GRID_OPERATOR_ROLE}
MAX_MESSAGE = 1024  # this viewer's messages are ~320 characters
# What the HMAC covers, read before any full parse: line 2 (address), the nonce, the expiry.
_FIELDS = re.compile(r"\A[^\n]*\n(?P<address>0x[0-9a-fA-F]{40})\n(?s:.*?)\nNonce: (?P<nonce>[0-9a-f]{40})\n"
                     r"(?s:.*?)\nExpiration Time: (?P<expiry>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)(?:\n|\Z)")


@dataclass(frozen=True)
class Session:
    address: str
    roles: frozenset[str]
    expires: float
    checked: float  # when the roles were last read from the contract

    @property
    def operator(self) -> bool:
        return "operator" in self.roles

    @property
    def grid(self) -> bool:
        return "grid" in self.roles

    @property
    def layer(self) -> str:
        return "operator" if self.operator else "grid" if self.grid else "member"


class AuthError(Exception):
    """Bad, expired or foreign sign-in message or signature (401)."""


class NodeUnavailable(Exception):
    """The roles could not be read from the chain in time (503): nothing was consumed."""


def first_line(exc: Exception) -> str:
    """The first line of an exception's text (siwe's parse errors are long), or its type."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Authenticator:
    def __init__(
        self,
        roles: Callable[[str], Iterable[str]],
        domain: str,
        challenge_ttl: int = 300,
        session_ttl: int = 900,
        clock: Callable[[], float] = time.time,
        uri: str | None = None,
        chain_id: int = 1337,
        role_ttl: float = 30.0,
        role_timeout: float = 3.0,
    ):
        self.roles, self.domain, self.uri, self.chain_id = roles, domain, uri or f"http://{domain}/", chain_id
        self.challenge_ttl, self.session_ttl, self.clock = challenge_ttl, session_ttl, clock
        self.role_ttl, self.role_timeout = role_ttl, role_timeout
        self._secret = secrets.token_bytes(32)
        self._used: dict[str, float] = {}  # nonce -> expiry, for nonces that signed someone in
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="viewer-roles")

    # ------------------------------------------------------------------ challenges (stateless)

    def _tag(self, address: str, random: str, expires: int) -> str:
        return hmac.new(self._secret, f"{address}|{random}|{expires}".encode(), hashlib.sha256).hexdigest()[:24]

    def challenge(self, address: str) -> tuple[str, int]:
        """A fresh SIWE message for `address` to sign; earlier ones stay valid until they expire."""
        now = int(self.clock())
        expires = now + self.challenge_ttl
        random = secrets.token_hex(8)
        message = SiweMessage(
            domain=self.domain, address=address, statement=STATEMENT, uri=self.uri, version="1",
            chain_id=self.chain_id, nonce=random + self._tag(address, random, expires),
            issued_at=_iso(now), expiration_time=_iso(expires),
        )
        return message.prepare_message(), expires

    def _parse(self, text: str) -> SiweMessage:
        """The SIWE message in `text`, if this viewer issued it for its address and it has not expired.
        The nonce's HMAC is checked with a regular expression before the (slow, ABNF) full parse, so
        that garbage costs microseconds, not seconds."""
        text = text.replace("\r\n", "\n").strip()
        header = f"{self.domain} wants you to sign in with your Ethereum account:\n"
        if len(text) > MAX_MESSAGE or not text.startswith(header):
            first = text.split("\n", 1)[0][:80]
            raise AuthError(f"not a sign-in message (EIP-4361) for this viewer ({self.domain}): it begins {first!r}")
        found = _FIELDS.search(text)
        if found is None:
            raise AuthError("not a sign-in message (EIP-4361) issued by this viewer: ask for a new one")
        address, nonce, expiry = found["address"], found["nonce"], found["expiry"]
        expires = int(datetime.fromisoformat(expiry.replace("Z", "+00:00")).timestamp())
        if not hmac.compare_digest(nonce[16:], self._tag(address, nonce[:16], expires)):
            raise AuthError("this message was not issued by this viewer (or was altered): ask for a new one")
        if expires < self.clock():
            raise AuthError("the sign-in message expired: ask for a new one")
        try:
            message = SiweMessage.from_message(text)
        except Exception as exc:  # noqa: BLE001 - siwe raises several parse errors
            raise AuthError(f"not a sign-in message (EIP-4361): {first_line(exc)}") from exc
        if (message.address, message.nonce, message.domain) != (address, nonce, self.domain):
            raise AuthError("this message was not issued by this viewer (or was altered): ask for a new one")
        return message

    # ------------------------------------------------------------------ sign-in

    def verify(self, text: str, signature: str) -> tuple[str, Session]:
        """Check a signed SIWE message; returns (token, session). One sign-in per message."""
        message = self._parse(text)
        now = self.clock()
        with self._lock:
            if message.nonce in self._used:
                raise AuthError("this message was already used to sign in: ask for a new one")
        try:
            message.verify(signature, domain=self.domain, nonce=message.nonce,
                           timestamp=datetime.fromtimestamp(now, timezone.utc))
        except Exception as exc:  # noqa: BLE001 - siwe's VerificationError family and malformed input
            raise AuthError(f"signature is not from {message.address}: {type(exc).__name__}") from exc
        address = Web3.to_checksum_address(message.address)
        roles = self._read_roles(address)  # NodeUnavailable: nothing consumed, sign the same message again
        session = Session(address, roles, now + self.session_ttl, now)
        token = secrets.token_urlsafe(32)
        with self._lock:
            if message.nonce in self._used:
                raise AuthError("this message was already used to sign in: ask for a new one")
            self._prune(self._used, now, lambda e: e, MAX_USED_NONCES)
            self._used[message.nonce] = now + self.challenge_ttl
            self._prune(self._sessions, now, lambda s: s.expires, MAX_SESSIONS)
            self._sessions[token] = session
        return token, session

    def _read_roles(self, address: str) -> frozenset[str]:
        future = self._pool.submit(lambda: frozenset(self.roles(address)))
        try:
            return future.result(timeout=self.role_timeout)
        except FutureTimeout as exc:
            future.cancel()
            raise NodeUnavailable(f"the chain node did not answer within {self.role_timeout:g} s; "
                                  "roles cannot be checked: try again shortly") from exc
        except Exception as exc:  # noqa: BLE001 - connection refused, RPC errors
            raise NodeUnavailable(f"the chain node cannot be reached to check roles ({type(exc).__name__}): "
                                  "try again shortly") from exc

    # ------------------------------------------------------------------ sessions

    def session(self, token: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(token)
            if session is not None and session.expires < self.clock():
                del self._sessions[token]
                return None
        return session

    def fresh(self, token: str, session: Session) -> Session:
        """`session` with its roles read again from the contract if older than `role_ttl` (before a
        privileged answer). NodeUnavailable if the node does not answer."""
        now = self.clock()
        if now - session.checked < self.role_ttl:
            return session
        session = replace(session, roles=self._read_roles(session.address), checked=now)
        with self._lock:
            if token in self._sessions:
                self._sessions[token] = session
        return session

    def logout(self, token: str) -> bool:
        with self._lock:
            return self._sessions.pop(token, None) is not None

    @staticmethod
    def _prune(table: dict, now: float, expiry: Callable, limit: int) -> None:
        for key in [k for k, v in table.items() if expiry(v) < now]:
            del table[key]
        while len(table) >= limit:  # still full of live entries: drop the oldest
            del table[next(iter(table))]


def contract_roles(exchange) -> Callable[[str], frozenset[str]]:
    """The caller's roles = the exchange roles it holds (`hasRole`), never a local list."""
    def roles(address: str) -> frozenset[str]:
        return frozenset(name for name, role in ROLE_NAMES.items()
                         if exchange.functions.hasRole(role, address).call())
    return roles


def role_reader(rpc_url: str, exchange_address: str, abi: list, timeout: float) -> Callable[[str], frozenset[str]]:
    """`contract_roles` on a connection of its own with a short timeout and no retries (web3's default
    retries a silent node for tens of seconds)."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None))
    return contract_roles(w3.eth.contract(address=Web3.to_checksum_address(exchange_address), abi=abi))


contract_operator_check = contract_roles  # the former name (one role), kept for callers outside the viewer
