"""The viewer's HTTP face: JSON API (OpenAPI at /docs), live SSE feed and the dashboard page.

Access layers: **public** endpoints give community aggregates, the forecast and a pseudonymised feed
(no addresses, token amounts or channels: the chain is public, but the viewer does not make profiling
members its front page), plus what the community decided and committed: the periods on chain, the
rule versions and the governance proposals with their tallies; **member** endpoints need a bearer
token from /api/auth/verify (Sign-In with Ethereum) and show only the caller's own meter, money,
purchases, statement and votes; **operators** (the PMO / energy
provider: OPERATOR_ROLE on the exchange) see every member, open and skipped purchases and the events
the indexer skipped; the **grid operator** (GRID_OPERATOR_ROLE on the exchange) sees meter data and
the allocation, without prices or balances. Roles are read from the contract and re-checked. No
write endpoints.
"""
from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal

import csv
import io
import json
import logging
import threading
from datetime import date, datetime

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from web3 import Web3

from viewer.auth import Authenticator, AuthError, NodeUnavailable, Session
from viewer.store import STEP, Store

STATIC = Path(__file__).parent / "static"
ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
MAX_PAGE = 500
MAX_BUCKETS = 2000
DAY = 86_400
MAX_TIME = 2**40 - 1  # uint40, as the contract stores timestamps

# ------------------------------------------------------------------------------------ models


class AllocationStep(BaseModel):
    """One step of a member's collective allocation (collective/allocate, run by the PMO, not on chain)."""
    t: int = Field(description="the step's end (Unix time, s)")
    local_wh: int = Field(description="local energy allocated to the member's consumption in the step (Wh)")
    complement_wh: int = Field(description="the rest of its consumption, delivered by its supplier (Wh)")


class Flows(BaseModel):
    """Where a member's energy came from and went over [from, to]. Sums that hold:
    consumed_wh = own_use_wh + from_network_wh and produced_wh = own_use_wh + exported_wh."""
    start: int = Field(alias="from", description="range start (Unix time, s)")
    end: int = Field(alias="to", description="range end (Unix time, s)")
    readings: int = Field(description="the member's meter readings timed in the range")
    produced_wh: int = Field(description="its PV production: Σ produced Wh of those readings")
    consumed_wh: int = Field(description="its consumption: Σ consumed Wh of those readings")
    own_use_wh: int = Field(description="own PV used at home: Σ over readings of min(produced, consumed)")
    from_network_wh: int = Field(description="consumption not covered by its own PV: consumed_wh - own_use_wh")
    exported_wh: int = Field(description="production not used at home: produced_wh - own_use_wh")
    soc_change_permille: int | None = Field(
        description="battery: state of charge at the last reading minus at the first (‰, summed over its meters), "
                    "none without readings")
    bought_wh: int = Field(description="bought from neighbours: delivered Wh of its purchases settled in the range")
    sold_wh: int = Field(description="sold to neighbours: delivered Wh of its sales settled in the range")
    allocation_steps: int = Field(description="steps of the collective allocation ending in the range")
    local_wh: int = Field(description="the collective allocation's local share over those steps (Wh)")
    complement_wh: int = Field(description="the allocation's grid complement (its supplier) over those steps (Wh)")

    model_config = {"populate_by_name": True}


class ConformityFlag(BaseModel):
    code: str = Field(description="what collective check found (GAP, SPIKE, ...)")
    instant: str = Field(description="end of the flagged interval (UTC, ISO 8601)")
    value: float | None = Field(None, description="the reading flagged (kWh), none for a gap")
    severity: str
    file: str = ""
    row: int = 0


class ConformityDay(BaseModel):
    meter: str = Field(description='"<meter id>:consumption" or "<meter id>:production"')
    day: date
    expected: int = Field(description="intervals the day should have")
    present: int = Field(description="intervals read")
    filled: int = Field(description="intervals estimated")
    status: str = Field(description="OK, ESTIMATED or NOT_BILLABLE")
    flags: list[ConformityFlag]


class Conformity(BaseModel):
    """The collective check report of the period (PMO and grid operator)."""
    billable: bool = Field(description="every meter-day is OK or ESTIMATED")
    days: list[ConformityDay]


class Page(BaseModel):
    total: int
    limit: int
    offset: int


class Status(BaseModel):
    indexed_block: int | None = Field(description="last block fully indexed")
    head_block: int | None = Field(description="chain head the indexer last saw")
    lag_blocks: int | None = Field(description="head_block - indexed_block")
    node_seen_at: int | None = Field(description="when the node last answered the indexer, unix seconds")
    server_time: int


class Totals(BaseModel):
    indexed_block: int | None
    meters: int
    members: int
    active_meters: int
    readings: int
    produced_wh: int
    consumed_wh: int
    purchases: int
    open_purchases: int
    bought_wh: int
    delivered_wh: int
    volume: str = Field(description="token base units (18 decimals) escrowed by all purchases")
    paid: str
    refunded: str
    fees: str
    skipped: int
    token_supply: str
    local_wh: int | None = Field(None, description="collective allocation of the period: local energy (Wh)")
    complement_wh: int | None = Field(None, description="collective allocation: energy from the supplier (Wh)")


class SeriesPoint(BaseModel):
    t: int = Field(description="bucket start, unix seconds")
    produced_wh: int
    consumed_wh: int
    soc_permille: int


class FeedItem(BaseModel):
    """A purchase opened or settled, without who or for how much (public layer)."""

    kind: Literal["BuyEnergy", "PurchaseSettled"]
    purchase_id: int
    block: int
    at: int | None
    wh: int
    delivered_wh: int | None
    status: Literal["open", "settled"]


class PublicPurchase(BaseModel):
    """A purchase without who, for how much or on which relay channel (public layer)."""

    purchase_id: int
    wh: int = Field(description="Wh bought")
    delivered_wh: int | None = Field(description="Wh delivered, once settled")
    status: Literal["open", "settled"]
    opened_at: int | None
    settled_at: int | None
    block_number: int


class PublicPurchasePage(Page):
    items: list[PublicPurchase]


class Purchase(BaseModel):
    purchase_id: int
    buyer: str
    seller: str
    wh: int
    amount: str
    channel: int
    block_number: int
    tx_hash: str
    opened_at: int | None
    status: Literal["open", "settled"]
    delivered_wh: int | None
    paid: str | None
    refunded: str | None
    fee: str | None
    settled_block: int | None
    settled_tx: str | None
    settled_at: int | None


class PurchasePage(Page):
    items: list[Purchase]


class Meter(BaseModel):
    meter_id: int
    owner: str
    oracle: str
    kind: int = Field(description="1 producer, 2 consumer, 3 prosumer")
    active: bool
    block_number: int
    seq: int | None
    timestamp: int | None
    produced_wh: int | None
    consumed_wh: int | None
    soc_permille: int | None


class Reading(BaseModel):
    seq: int
    timestamp: int
    produced_wh: int
    consumed_wh: int
    soc_permille: int
    produced_delta: int
    consumed_delta: int
    block_number: int


class ReadingPage(Page):
    items: list[Reading]


class MemberSummary(BaseModel):
    address: str
    meter_id: int | None
    kind: int | None
    produced_wh: int
    consumed_wh: int
    soc_permille: int | None
    purchases: int
    bought_wh: int
    delivered_wh: int
    spent: str
    paid: str
    refunded: str
    fees: str
    sales: int
    sold_wh: int
    earned: str
    token_balance: str
    exchange_balance: str = Field(description="balance held in the exchange (deposits - escrow + refunds + pay)")


class DailyMoney(BaseModel):
    day: int = Field(description="UTC day start, unix seconds")
    spent: str = Field(description="escrowed by purchases opened that day")
    paid: str
    refunded: str
    fees: str
    earned: str = Field(description="paid to the member for its sales settled that day")
    bought_wh: int
    delivered_wh: int
    sold_wh: int


class OpenPurchase(Purchase):
    age_s: int | None = Field(description="seconds since the purchase opened")


class OpenPurchasePage(Page):
    items: list[OpenPurchase]


class Skip(BaseModel):
    block_number: int
    log_index: int
    buyer: str
    reason: int
    reason_text: str


class SkipPage(Page):
    items: list[Skip]


class MemberHealth(BaseModel):
    meter_id: int
    owner: str
    kind: int
    active: bool
    last_seen: int | None = Field(description="timestamp of the latest reading")
    silent_s: int | None = Field(description="seconds since the latest reading")
    consumed_wh: int
    purchased_wh: int
    local_wh: int | None
    complement_wh: int | None


class ReferenceEntry(BaseModel):
    salt: str
    account: str
    member: str
    member_id: str
    debit: str
    credit: str
    statement: str = Field(description="keccak256 of the statement file's canonical JSON")


class Reference(BaseModel):
    """A member's statement leaf in the period's committed statements tree (OpenZeppelin
    StandardMerkleTree: leaf = keccak256(keccak256(abi.encode(salt, account, member_id, debit, credit,
    statement))), pairs hashed sorted)."""

    period: int
    version: int
    chain_id: int | None = None
    ledger: str | None = None
    statement_root: str
    leaf: str
    entry: ReferenceEntry
    proof: list[str]


class Statement(BaseModel, extra="allow"):
    """A member's statement of a period as the billing job wrote it (`daisee-collective bill`: lines,
    totals, due... as further keys); `reference` (`daisee-collective commit`) once the period is
    committed on chain."""

    member: str
    period: str
    version: int
    reference: Reference | None = Field(None, description="null until the period is committed")


HEX32 = Field(pattern=r"^0x[0-9a-f]{64}$")


class Period(BaseModel):
    """One committed version of a period (PeriodCommitted) with what the settlement collected and paid."""

    period: int = Field(description="YYYYMM")
    version: int
    inputs_root: str = HEX32
    allocation_root: str = HEX32
    statement_root: str = HEX32
    rules_version: int
    settlement_total: str = Field(description="token base units the statements of this version settle")
    collected: str = Field(description="token base units collected so far (Collected events)")
    paid: str = Field(description="token base units paid out so far (Paid events)")
    superseded: bool = Field(description="a later version of the period was committed")
    block_number: int
    tx_hash: str


class RuleVersion(BaseModel):
    """A version of the community rules (RulesSet) and the first period it applies to."""

    version: int
    effective_period: int = Field(description="YYYYMM")
    block_number: int
    tx_hash: str


ProposalState = Literal["pending", "active", "defeated", "closed", "queued", "executed", "canceled"]


class Proposal(BaseModel):
    """A governance proposal and its tallies from the indexed votes (one member, one vote)."""

    proposal_id: str = Field(description="uint256, decimal")
    proposer: str
    description: str
    vote_start: int = Field(description="unix seconds (the governor's timestamp clock)")
    vote_end: int
    votes_for: str
    votes_against: str
    votes_abstain: str
    voters: int
    state: ProposalState = Field(description=(
        "from the indexed events and the chain time: pending (voting not open), active, defeated (closed "
        "with no more for than against), closed (more for than against: succeeded if the quorum was met), "
        "queued, executed, canceled"))
    eta: int | None = Field(None, description="when a queued proposal can be executed, unix seconds")
    block_number: int
    tx_hash: str


class Vote(BaseModel):
    proposal_id: str
    description: str | None
    support: Literal["against", "for", "abstain"]
    weight: str
    reason: str
    block_number: int
    tx_hash: str


SUPPORT = {0: "against", 1: "for", 2: "abstain"}


def proposal_state(row: dict, now: int) -> tuple[str, int | None]:
    """The state of an indexed proposal at `now` (OpenZeppelin Governor's order: canceled, executed,
    queued, then by time), and its eta when queued."""
    events = row["events"]
    for kind in ("canceled", "executed"):
        if kind in events:
            return kind, events.get("queued")
    if "queued" in events:
        return "queued", events["queued"]
    if now <= row["vote_start"]:
        return "pending", None
    if now <= row["vote_end"]:
        return "active", None
    return ("closed" if int(row["votes_for"]) > int(row["votes_against"]) else "defeated"), None


class RelayStatus(BaseModel):
    """One relay as its state file shows it (what it believes, not the board's live state)."""

    name: str = Field(description="the state file's parent folder and name")
    readable: bool
    error: str | None = None
    cursor: int | None = Field(None, description="last block whose events the relay handled")
    behind_blocks: int | None = Field(None, description="indexed block - cursor")
    last_read: float | None = Field(None, description="wall-clock time of the relay's last good chain read")
    silent_s: int | None = None
    members: int = 0
    on_seller: int = Field(0, description="members the relay switched to a seller")


class GridMeter(BaseModel):
    """Meter data for the grid operator: no owner, no prices, no balances."""

    meter_id: int
    kind: int
    active: bool
    last_seen: int | None
    produced_wh: int | None
    consumed_wh: int | None
    local_wh: int | None
    complement_wh: int | None


class ForecastSlot(BaseModel):
    start: str
    end: str
    pv_kwh: float
    pv_p10: float
    pv_p90: float
    load_kwh: float
    load_p10: float
    load_p90: float


class CheapHours(BaseModel):
    start: str
    end: str
    local_share: float


class Forecast(BaseModel):
    """Tomorrow's community PV and load forecast with its band (written by the forecasting job)."""

    generated_at: datetime
    day: date
    timezone: str
    step_s: Literal[900, 1800]
    method: str
    skill: dict[Literal["pv", "load"], float | None]
    slots: list[ForecastSlot]
    cheap_local_hours: list[CheapHours]


class Usage(BaseModel):
    meter_id: int
    owner: str
    kind: int
    consumed_wh: int
    purchased_wh: int
    delivered_wh: int
    local_wh: int | None = Field(None, description="collective allocation of the period: local energy (Wh)")
    complement_wh: int | None = Field(None, description="collective allocation: energy from the supplier (Wh)")


class PoisonEvent(BaseModel):
    """An event the indexer could not store and skipped."""

    block_number: int
    log_index: int
    tx_hash: str | None
    name: str | None
    args: str | None = Field(description="the decoded event args as JSON text")
    error: str | None


class PoisonPage(Page):
    items: list[PoisonEvent]


class Challenge(BaseModel):
    address: str
    message: str
    expires: int


class VerifyRequest(BaseModel):
    message: Annotated[str, Field(min_length=1, max_length=2000, description="the EIP-4361 message, as signed")]
    signature: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte personal_sign signature")]


class SessionInfo(BaseModel):
    token: str | None = None
    address: str
    operator: bool
    roles: list[Literal["operator", "grid"]]
    layer: Literal["member", "operator", "grid"]
    expires: int


# ------------------------------------------------------------------------------------ parameters

AddressQuery = Annotated[str | None, Query(pattern=ADDRESS_PATTERN, description="0x-prefixed 20-byte address")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Time = Annotated[int | None, Query(ge=0, le=MAX_TIME, description="unix seconds")]
Bucket = Annotated[int, Query(ge=10, le=DAY, description=(
    "bucket width, seconds; from 300 up it is rounded up to a multiple of 300 (the pre-aggregated step)"))]
MeterId = PathParam(ge=1, le=2**32 - 1)
ADDRESS_PATH = PathParam(pattern=ADDRESS_PATTERN, description="0x-prefixed 20-byte address")
bearer = HTTPBearer(auto_error=False, description="token from POST /api/auth/verify")
log = logging.getLogger("daisee.viewer.api")

# Documented error answers (the body is FastAPI's {"detail": ...}).
ERR_401 = {401: {"description": "not signed in, or the session expired or was signed out"}}
ERR_403 = {403: {"description": "not visible to the caller's layer"}}
ERR_404 = {404: {"description": "no such resource"}}
ERR_503 = {503: {"description": "busy (heavy public queries queued) or the chain node does not answer: retry"}}
PRIVATE = {**ERR_401, **ERR_503}
ROLE_ONLY = {**ERR_401, **ERR_403, **ERR_503}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def series_response(rows: list[dict]) -> JSONResponse:
    """Series points straight to JSON: the store's rows are already SeriesPoints (ints), and validating
    2000 of them again costs more than the query."""
    return JSONResponse(rows)


def unprocessable(field: str, message: str, where: str = "query") -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors (the schema's HTTPValidationError)."""
    return HTTPException(422, [{"loc": [where, field], "msg": message, "type": "value_error"}])


def token_of(creds: HTTPAuthorizationCredentials | None) -> str | None:
    return creds.credentials if creds else None


def viewer_session(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Session:
    """The signed-in caller, or 401; a caller with roles gets them read again from the contract once
    they are older than `role_ttl` (503 if the node does not answer)."""
    auth: Authenticator = request.app.state.auth
    token = token_of(creds)
    session = auth.session(token) if token else None
    if session is None:
        raise HTTPException(401, "sign in first: a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    if session.roles:
        try:
            session = auth.fresh(token, session)
        except NodeUnavailable as exc:
            raise HTTPException(503, str(exc), {"Retry-After": "5"}) from exc
    return session


Viewer = Annotated[Session, Depends(viewer_session)]


def operator_session(session: Viewer) -> Session:
    """A signed-in operator (PMO), or 403."""
    if not session.operator:
        raise HTTPException(403, "operators (OPERATOR_ROLE) only")
    return session


def grid_session(session: Viewer) -> Session:
    """A signed-in grid operator (or PMO operator), or 403."""
    if not (session.grid or session.operator):
        raise HTTPException(403, "the grid operator (GRID_OPERATOR_ROLE) only")
    return session


Operator = Annotated[Session, Depends(operator_session)]
Grid = Annotated[Session, Depends(grid_session)]


def checksum(address: str | None) -> str | None:
    return Web3.to_checksum_address(address) if address else None


def community_now(store: Store) -> int:
    """The community's present: the wall clock, or the chain's latest indexed block time when the chain
    runs ahead of it (a development chain moved on, a validator's clock drifting)."""
    return max(int(time.time()), store.chain_time() or 0)


def time_range(store: Store, start: int | None, end: int | None, span: int = DAY) -> tuple[int, int]:
    """Default window: the last `span` seconds up to the latest reading (or now)."""
    end = end if end is not None else (store.latest_reading_time() or int(time.time()))
    start = start if start is not None else max(0, end - span)
    if start > end:
        raise unprocessable("from", f"inverted time range: from ({start}) is after to ({end})")
    return start, end


def bucket_range(store: Store, start: int | None, end: int | None, bucket: int) -> tuple[int, int]:
    """A time range for a series: an over-wide window is cut to its latest MAX_BUCKETS buckets (the
    schema allows any from/to, so they are not refused)."""
    start, end = time_range(store, start, end)
    return max(start, end - bucket * MAX_BUCKETS), end


class Heavy:
    """Bounded concurrency for the heavy public queries: at most `workers` run at once on their own
    threads (never the pool that serves the light endpoints), at most `queue` wait, the rest get 503."""

    def __init__(self, workers: int, queue: int):
        self.limiter = anyio.CapacityLimiter(workers)
        self.queue, self.waiting = queue, 0

    async def run(self, fn, *args):
        if self.waiting >= self.queue:
            raise HTTPException(503, "busy: too many heavy queries at once, retry shortly", {"Retry-After": "1"})
        self.waiting += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)
        finally:
            self.waiting -= 1


def create_app(
    store: Store,
    auth: Authenticator,
    poll_interval: float = 0.5,
    lifespan=None,
    forecast: Path | None = None,
    relay_states: list[Path] = (),
    statements: Path | None = None,
    references: Path | None = None,
    collective_dir: Path | None = None,
    heavy_workers: int = 2,
    heavy_queue: int = 64,
    closing: threading.Event | None = None,
) -> FastAPI:
    """The app. `closing` set (by the server on SIGTERM) ends the open event streams at once."""

    @asynccontextmanager
    async def no_lifespan(app):
        yield

    app = FastAPI(
        title="DAISEE community viewer",
        version="2.0",
        description=(__doc__ or "").strip(),
        lifespan=lifespan or no_lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.auth = auth
    app.state.closing = closing = closing or threading.Event()
    heavy = Heavy(heavy_workers, heavy_queue)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def allow(session: Session, address: str | None) -> None:
        if address is not None and address != session.address and not session.operator:
            raise HTTPException(403, "members may only see their own data")

    def own_meter(session: Session, meter_id: int) -> None:
        meter = store.meter(meter_id)
        privileged = session.operator or session.grid
        if meter is None or (meter["owner"] != session.address and not privileged):
            # Members get the same answer for "not yours" and "does not exist".
            raise HTTPException(404 if privileged else 403, f"meter {meter_id} is not visible to you")

    # ------------------------------------------------------------------ public

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI from the vendored swagger-ui-dist (no CDN; works offline)."""
        return HTMLResponse((STATIC / "docs.html").read_text())

    @app.get("/api/status", response_model=Status, tags=["public"])
    def status() -> Status:
        """Indexing progress: last indexed block, chain head, lag, and when the node last answered."""
        indexed = store.cursor()
        head, seen = store.node()
        lag = None if head is None or indexed is None else max(0, head - indexed)
        return Status(indexed_block=indexed, head_block=head, lag_blocks=lag, node_seen_at=seen,
                      server_time=int(time.time()))

    @app.get("/api/totals", response_model=Totals, tags=["public"])
    def totals() -> dict:
        """Community aggregates: meters, energy, purchases, token flows (pre-aggregated)."""
        return store.totals()

    @app.get("/api/series", response_model=list[SeriesPoint], tags=["public"], responses=ERR_503)
    async def series(
        start: Annotated[Time, Query(alias="from")] = None,
        end: Annotated[Time, Query(alias="to")] = None,
        bucket: Bucket = 900,
    ) -> list[dict]:
        """Community production, consumption (Wh per bucket) and mean state of charge; buckets without a
        reading are absent. A window wider than 2000 buckets keeps its latest 2000. Buckets under 300 s
        read the raw readings: those queries run a few at a time (503 when too many wait)."""
        bucket = bucket if bucket < STEP else -(-bucket // STEP) * STEP
        start, end = bucket_range(store, start, end, bucket)
        if bucket % STEP == 0:  # at most 2000 buckets of pre-aggregated steps: light
            return series_response(await anyio.to_thread.run_sync(store.series, start, end, bucket))
        return series_response(await heavy.run(store.series, start, end, bucket))  # raw readings: bounded

    @app.get("/api/feed", response_model=list[FeedItem], tags=["public"])
    def feed(limit: Annotated[int, Query(ge=1, le=200)] = 30) -> list[dict]:
        """Latest purchases opened and settled, oldest first, pseudonymised."""
        return store.activity(limit=limit)

    @app.get("/api/public/purchases", response_model=PublicPurchasePage, tags=["public"])
    def public_purchases(limit: Limit = 20, offset: Offset = 0) -> PublicPurchasePage:
        """Every purchase, newest first, pseudonymised (no addresses, amounts or channels), by pages."""
        total, rows = store.public_purchases(limit, offset)
        return PublicPurchasePage(total=total, limit=limit, offset=offset, items=rows)

    @app.get("/api/periods", response_model=list[Period], tags=["public"])
    def periods() -> list[dict]:
        """Every period version committed on chain (PeriodLedger), newest first: its three roots, rules
        version, settlement total and what CollectiveSettlement collected and paid for it. Empty when
        the deployment has no ledger."""
        return store.periods()

    @app.get("/api/rules", response_model=list[RuleVersion], tags=["public"])
    def rules() -> list[dict]:
        """The community rule versions (CommunityRules) and the first period each applies to."""
        return store.rule_versions()

    @app.get("/api/governance/proposals", response_model=list[Proposal], tags=["public"])
    def proposals() -> list[dict]:
        """Governance proposals, newest first, with their tallies and state at the chain's time."""
        now = community_now(store)
        out = []
        for row in store.proposals():
            state, eta = proposal_state(row, now)
            out.append({**{k: v for k, v in row.items() if k != "events"}, "state": state, "eta": eta})
        return out

    @app.get("/api/forecast", response_model=Forecast, tags=["public"], responses=ERR_404)
    def get_forecast() -> Forecast:
        """Tomorrow's PV and load forecast with its p10-p90 band and the cheap local hours."""
        if forecast is None or not forecast.is_file():
            raise HTTPException(404, "no forecast yet: the forecasting job has not written forecast.json")
        try:
            return Forecast.model_validate(json.loads(forecast.read_text()))
        except ValueError as exc:
            log.error("forecast file %s is unusable: %s", forecast, exc)
            raise HTTPException(404, f"no usable forecast: {forecast.name} does not have the expected shape") from exc

    @app.get("/api/stream", tags=["public"], response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}}})
    async def stream(request: Request) -> StreamingResponse:
        """Server-sent events: one `purchase` event (a FeedItem) per BuyEnergy/PurchaseSettled indexed."""
        latest = await asyncio.to_thread(store.activity, limit=1)
        position = (latest[-1]["block"], latest[-1]["log_index"]) if latest else (-1, -1)  # before everything

        async def events():
            nonlocal position
            yield "retry: 2000\n\n"
            idle = 0.0
            while not closing.is_set() and not await request.is_disconnected():
                rows = await asyncio.to_thread(store.activity, position, 100)
                for row in rows:
                    position = (row["block"], row["log_index"])
                    yield f"event: purchase\ndata: {FeedItem.model_validate(row).model_dump_json()}\n\n"
                idle = 0.0 if rows else idle + poll_interval
                if idle >= 15:  # keep proxies from closing an idle stream
                    idle = 0.0
                    yield ": ping\n\n"
                await asyncio.sleep(poll_interval)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    # ------------------------------------------------------------------ sign-in

    def session_info(session: Session, token: str | None = None) -> SessionInfo:
        return SessionInfo(token=token, address=session.address, operator=session.operator,
                           roles=sorted(session.roles), layer=session.layer, expires=int(session.expires))

    @app.get("/api/auth/challenge", response_model=Challenge, tags=["auth"])
    def challenge(address: Annotated[str, Query(pattern=ADDRESS_PATTERN)]) -> Challenge:
        """An EIP-4361 (Sign-In with Ethereum) message to sign with `personal_sign`, in a wallet, any
        signing tool or `daisee-viewer sign`. Asking again does not void earlier messages."""
        address = checksum(address)
        message, expires = auth.challenge(address)
        return Challenge(address=address, message=message, expires=int(expires))

    @app.post("/api/auth/verify", response_model=SessionInfo, tags=["auth"], responses={
        400: {"description": "the body is not readable JSON"},
        401: {"description": "not a message of this viewer, expired, used, or not signed by its address"},
        503: {"description": "the node does not answer, so roles cannot be checked: the message stays usable"}})
    def verify(body: VerifyRequest) -> SessionInfo:
        """Exchange a signed sign-in message for a short-lived bearer token."""
        try:
            token, session = auth.verify(body.message, body.signature)
        except AuthError as exc:
            raise HTTPException(401, str(exc)) from exc
        except NodeUnavailable as exc:
            raise HTTPException(503, str(exc), {"Retry-After": "5"}) from exc
        return session_info(session, token)

    @app.get("/api/auth/me", response_model=SessionInfo, tags=["auth"], responses=PRIVATE)
    def me(session: Viewer) -> SessionInfo:
        return session_info(session)

    @app.post("/api/auth/logout", status_code=204, tags=["auth"], responses=ERR_401)
    def logout(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Response:
        """End the session on the server: its token stops working at once."""
        token = token_of(creds)
        if not token or not auth.logout(token):
            raise HTTPException(401, "no such session (already signed out or expired)", {"WWW-Authenticate": "Bearer"})
        return Response(status_code=204)

    # ------------------------------------------------------------------ members (own data) and operators

    @app.get("/api/meters", response_model=list[Meter], tags=["members"], responses=PRIVATE)
    def meters(session: Viewer) -> list[dict]:
        """Meters and their owners with the latest reading: all for operators, one's own for members."""
        return store.meters(None if session.operator else session.address)

    @app.get("/api/meters/{meter_id}/readings", response_model=ReadingPage, tags=["members"],
             responses={**ROLE_ONLY, **ERR_404})
    def readings(
        session: Viewer,
        meter_id: Annotated[int, MeterId],
        start: Annotated[Time, Query(alias="from")] = None,
        end: Annotated[Time, Query(alias="to")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> ReadingPage:
        """Readings of one meter in [from, to] (unix seconds; default the last day of data): one's own,
        or any for operators and the grid operator."""
        own_meter(session, meter_id)
        start, end = time_range(store, start, end)
        total, rows = store.readings(meter_id, start, end, limit, offset)
        return ReadingPage(total=total, limit=limit, offset=offset, items=rows)

    @app.get("/api/meters/{meter_id}/series", response_model=list[SeriesPoint], tags=["members"],
             responses={**ROLE_ONLY, **ERR_404})
    async def meter_series(
        session: Viewer,
        meter_id: Annotated[int, MeterId],
        start: Annotated[Time, Query(alias="from")] = None,
        end: Annotated[Time, Query(alias="to")] = None,
        bucket: Bucket = 900,
    ) -> list[dict]:
        own_meter(session, meter_id)
        start, end = bucket_range(store, start, end, bucket)
        return series_response(await anyio.to_thread.run_sync(store.series, start, end, bucket, meter_id))

    @app.get("/api/purchases", response_model=PurchasePage, tags=["members"], responses=ROLE_ONLY)
    def purchases(
        session: Viewer,
        member: AddressQuery = None,
        buyer: AddressQuery = None,
        seller: AddressQuery = None,
        status: Literal["open", "settled"] | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> PurchasePage:
        """Purchases, newest first, filtered by member (buyer or seller), buyer, seller and status.
        Members see only purchases they are part of."""
        member, buyer, seller = checksum(member), checksum(buyer), checksum(seller)
        if not session.operator:
            allow(session, member)
            member = session.address  # buyer/seller filters then only narrow the member's own purchases
        total, rows = store.purchases(limit, offset, member, buyer, seller, status)
        return PurchasePage(total=total, limit=limit, offset=offset, items=rows)

    @app.get("/api/members/{address}/summary", response_model=MemberSummary, tags=["members"], responses=ROLE_ONLY)
    def summary(session: Viewer, address: Annotated[str, ADDRESS_PATH]) -> dict:
        """A member's money and energy: purchases as buyer and seller, fees, refunds, token balance."""
        address = checksum(address)
        allow(session, address)
        return store.member_summary(address)

    @app.get("/api/me/daily", response_model=list[DailyMoney], tags=["members"], responses=PRIVATE)
    def daily(
        session: Viewer,
        start: Annotated[Time, Query(alias="from")] = None,
        end: Annotated[Time, Query(alias="to")] = None,
    ) -> list[dict]:
        """The caller's money per UTC day (default: the last 30 days up to now)."""
        end = end if end is not None else community_now(store)
        start, end = time_range(store, start, end, span=30 * DAY)
        return [{**row, **{k: str(row[k]) for k in ("spent", "paid", "refunded", "fees", "earned")}}
                for row in store.member_daily(session.address, start, end)]

    @app.get("/api/me/export.csv", tags=["members"], response_class=Response, responses={
        200: {"content": {"text/csv": {}}, "description": "the caller's purchases and sales"}, **PRIVATE})
    def export(session: Viewer) -> Response:
        """The caller's own purchases and sales as CSV (token amounts in base units)."""
        out = io.StringIO()
        columns = list(Purchase.model_fields)
        writer = csv.DictWriter(out, ["side", *columns], extrasaction="ignore")
        writer.writeheader()
        offset = 0
        while True:
            _, rows = store.purchases(MAX_PAGE, offset, member=session.address)
            for row in rows:
                writer.writerow({"side": "buy" if row["buyer"] == session.address else "sell", **row})
            if len(rows) < MAX_PAGE:
                break
            offset += MAX_PAGE
        return Response(out.getvalue(), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="daisee-{session.address}.csv"'})

    def reference_of(address: str) -> Reference | None:
        """`address`'s statement reference of the latest committed period version (references dir)."""
        found = []
        for path in sorted(references.glob("*.json")) if references and references.is_dir() else []:
            try:
                reference = Reference.model_validate(json.loads(path.read_text()))
            except ValueError as exc:
                log.error("reference %s is unusable: %s", path, exc)
                continue
            if reference.entry.account.lower() == address.lower():
                found.append(reference)
        return max(found, key=lambda r: (r.period, r.version)) if found else None

    def statement_of(address: str) -> dict:
        """The statement the billing job wrote for the member whose latest reference names `address`
        (statements are keyed by the member id, not the address), with that reference attached."""
        reference = reference_of(address)
        if reference is None:
            raise HTTPException(404, f"no statement for {address} yet: no committed period names this account")
        name = reference.entry.member
        path = statements / f"{name}.json" if statements and "/" not in name and not name.startswith(".") else None
        if path is None or not path.is_file():
            raise HTTPException(404, f"no statement for {address} yet: the billing job has not written {name}.json")
        try:
            statement = Statement.model_validate({**json.loads(path.read_text()), "reference": reference.model_dump()})
        except ValueError as exc:
            log.error("statement %s is unusable: %s", path, exc)
            raise HTTPException(404, f"no usable statement for {address}: the file does not have the expected shape") from exc
        return statement.model_dump()

    @app.get("/api/me/statement", response_model=Statement, tags=["members"], responses={**PRIVATE, **ERR_404})
    def my_statement(session: Viewer) -> dict:
        """The caller's latest statement with its Merkle reference (verify the proof against the root
        committed on chain for its period: /api/periods)."""
        return statement_of(session.address)

    @app.get("/api/operator/statements/{address}", response_model=Statement, tags=["operators"],
             responses={**ROLE_ONLY, **ERR_404})
    def member_statement(session: Operator, address: Annotated[str, ADDRESS_PATH]) -> dict:
        """Any member's latest statement (PMO)."""
        return statement_of(checksum(address))

    @app.get("/api/me/statement/{kind}", tags=["members"], response_class=Response, responses={
        200: {"content": {"text/html": {}, "application/pdf": {}},
              "description": "the caller's latest statement as rendered at commit time, with its proof"},
        **PRIVATE, **ERR_404})
    def my_statement_document(session: Viewer, kind: Literal["html", "pdf"]) -> Response:
        """The caller's latest committed statement as the member receives it (HTML or PDF, with its
        verification reference): `daisee-collective commit` renders them next to the references."""
        reference = reference_of(session.address)
        name = reference.entry.member if reference is not None else ""
        path = references.parent / "statements" / f"{name}.{kind}" if reference is not None else None
        if path is None or "/" in name or name.startswith(".") or not path.is_file():
            raise HTTPException(404, f"no committed {kind.upper()} statement for {session.address} yet")
        media = "text/html; charset=utf-8" if kind == "html" else "application/pdf"
        return Response(path.read_bytes(), media_type=media, headers={
            "Content-Disposition": f'attachment; filename="statement-{reference.period}-v{reference.version}.{kind}"'})

    @app.get("/api/me/reference", response_model=Reference, tags=["members"], responses={**PRIVATE, **ERR_404})
    def my_reference(session: Viewer) -> Reference:
        """The caller's statement reference (leaf, salt, proof) of the latest committed period, for
        checking in the browser that its statement is in the root committed on chain."""
        reference = reference_of(session.address)
        if reference is None:
            raise HTTPException(404, "no statement reference for you yet: the period is not committed")
        return reference

    @app.get("/api/me/votes", response_model=list[Vote], tags=["members"], responses=PRIVATE)
    def my_votes(session: Viewer) -> list[dict]:
        """The caller's own governance votes, newest first."""
        return [{**v, "support": SUPPORT[v["support"]]} for v in store.votes(session.address)]

    @app.get("/api/usage", response_model=list[Usage], tags=["members"], responses=PRIVATE)
    def usage(session: Viewer) -> list[dict]:
        """Purchased vs consumed per member, with the collective allocation: all for operators, one's
        own row for members."""
        return store.usage(None if session.operator else session.address)

    # ------------------------------------------------------------------ operators (PMO) only

    @app.get("/api/operator/poison", response_model=PoisonPage, tags=["operators"], responses=ROLE_ONLY)
    def poison(session: Operator, limit: Limit = 50, offset: Offset = 0) -> PoisonPage:
        """Events the indexer could not store (their values or fields were unusable) and skipped, newest
        first: each is logged once and indexing went on past it."""
        total, rows = store.poison_events(limit, offset)
        return PoisonPage(total=total, limit=limit, offset=offset, items=rows)

    @app.get("/api/operator/members", response_model=list[MemberHealth], tags=["operators"], responses=ROLE_ONLY)
    def members(session: Operator) -> list[dict]:
        """Every member's meter health (last reading, silence) and allocation of the period."""
        now = community_now(store)
        latest = {m["meter_id"]: m for m in store.meters()}
        return [{**u, "active": bool(latest[u["meter_id"]]["active"]), "last_seen": latest[u["meter_id"]]["timestamp"],
                 "silent_s": None if latest[u["meter_id"]]["timestamp"] is None
                 else max(0, now - latest[u["meter_id"]]["timestamp"])} for u in store.usage()]

    @app.get("/api/operator/purchases/open", response_model=OpenPurchasePage, tags=["operators"], responses=ROLE_ONLY)
    def open_purchases(session: Operator, limit: Limit = 50, offset: Offset = 0) -> OpenPurchasePage:
        """Open purchases, oldest first, with their age."""
        total, rows = store.open_purchases(community_now(store), limit, offset)
        return OpenPurchasePage(total=total, limit=limit, offset=offset, items=rows)

    @app.get("/api/operator/skips", response_model=SkipPage, tags=["operators"], responses=ROLE_ONLY)
    def skips(session: Operator, limit: Limit = 50, offset: Offset = 0) -> SkipPage:
        """Purchases the exchange skipped, newest first, and why (no eligible seller, insufficient
        balance, stale reading)."""
        total, rows = store.skips(limit, offset)
        return SkipPage(total=total, limit=limit, offset=offset, items=rows)

    @app.get("/api/operator/relays", response_model=list[RelayStatus], tags=["operators"], responses=ROLE_ONLY)
    def relays(session: Operator) -> list[RelayStatus]:
        """The relays' states (settings `relay_states`): cursor and lag, last chain read, supplies."""
        from relay.state import RelayState

        out, now, indexed = [], time.time(), store.cursor()
        for path in relay_states:
            name = f"{path.parent.name}/{path.name}"
            try:
                state = RelayState.load(path)
            except (OSError, ValueError) as exc:
                out.append(RelayStatus(name=name, readable=False, error=f"{type(exc).__name__}: {exc}"[:200]))
                continue
            if state is None:
                out.append(RelayStatus(name=name, readable=False, error="no state file yet"))
                continue
            out.append(RelayStatus(
                name=name, readable=True, cursor=state.cursor, last_read=state.last_read,
                behind_blocks=None if indexed is None else max(0, indexed - state.cursor),
                silent_s=None if state.last_read is None else max(0, int(now - state.last_read)),
                members=len(state.supply), on_seller=sum(s.source == "seller" for s in state.supply.values())))
        return out

    # ------------------------------------------------------------------ grid operator

    @app.get("/api/grid/meters", response_model=list[GridMeter], tags=["grid"], responses=ROLE_ONLY)
    def grid_meters(session: Grid) -> list[dict]:
        """Every meter's latest counters and the allocation of the period, by meter id: no owners,
        prices or balances."""
        allocation = {u["meter_id"]: u for u in store.usage()}
        return [{**m, "active": bool(m["active"]), "last_seen": m["timestamp"],
                 "local_wh": allocation.get(m["meter_id"], {}).get("local_wh"),
                 "complement_wh": allocation.get(m["meter_id"], {}).get("complement_wh")} for m in store.meters()]

    @app.get("/api/me/allocation", response_model=list[AllocationStep], tags=["members"], responses=PRIVATE)
    def my_allocation(
        session: Viewer,
        start: Annotated[Time, Query(alias="from")] = None,
        end: Annotated[Time, Query(alias="to")] = None,
    ) -> list[dict]:
        """The caller's collective allocation per step ending in [from, to] (default: the whole period)."""
        start, end = time_range(store, 0 if start is None else start, MAX_TIME if end is None else end)
        return store.allocation_steps(session.address, start, end)

    @app.get("/api/allocation/{address}", response_model=list[AllocationStep], tags=["grid"], responses=ROLE_ONLY)
    def allocation_of(
        session: Grid,
        address: Annotated[str, ADDRESS_PATH],
        start: Annotated[Time, Query(alias="from")] = None,
        end: Annotated[Time, Query(alias="to")] = None,
    ) -> list[dict]:
        """Any member's collective allocation per step (grid operator and PMO)."""
        start, end = time_range(store, 0 if start is None else start, MAX_TIME if end is None else end)
        return store.allocation_steps(checksum(address), start, end)

    @app.get("/api/me/flows", response_model=Flows, response_model_by_alias=True, tags=["members"], responses=PRIVATE)
    def my_flows(
        session: Viewer,
        start: Annotated[Time, Query(alias="from")] = None,
        end: Annotated[Time, Query(alias="to")] = None,
        span: Annotated[int, Query(ge=300, le=366 * DAY, description="seconds before `to` when `from` is not given")] = DAY,
    ) -> dict:
        """Where the caller's energy came from and went over [from, to] (default: the `span` up to the latest
        reading, so that a range follows the chain's clock, not the browser's)."""
        start, end = time_range(store, start, end, span=span)
        return store.flows(session.address, start, end)

    def collective_file(name: str) -> Path:
        if collective_dir is None:
            raise HTTPException(404, f"no collective folder configured (collective_dir): no {name}")
        path = Path(collective_dir) / name
        if not path.is_file():
            raise HTTPException(404, f"no {name} yet: the PMO's collective run has not written it")
        return path

    @app.get("/api/collective/conformity", response_model=Conformity, tags=["grid"], responses={**ROLE_ONLY, **ERR_404})
    def conformity(
        session: Grid,
        meter: Annotated[str | None, Query(max_length=64, description='"<meter id>:consumption" or ":production"')] = None,
        day: Annotated[date | None, Query(description="one UTC day (YYYY-MM-DD)")] = None,
    ) -> Conformity:
        """The conformity report of the period (collective check): each meter-day with its status and flags."""
        path = collective_file("conformity.json")
        try:
            report = Conformity.model_validate_json(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise HTTPException(404, "no usable conformity report: conformity.json does not have the expected shape") from exc
        report.days = [d for d in report.days if (meter is None or d.meter == meter) and (day is None or d.day == day)]
        return report

    @app.get("/api/collective/keys.csv", tags=["grid"], response_class=Response, responses={
        200: {"content": {"text/csv": {}}, "description": "the grid operator's allocation key file"},
        **ROLE_ONLY, **ERR_404})
    def keys_csv(session: Grid) -> Response:
        """The allocation key file sent to the grid operator (per step and consumer, kWh)."""
        path = collective_file("keys.csv")
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise HTTPException(404, f"keys.csv is unreadable: {exc.strerror}") from exc
        return Response(body, media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="keys.csv"'})

    return app

