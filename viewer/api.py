"""The viewer's HTTP face: JSON API (OpenAPI at /docs), live SSE feed and the dashboard page.

Access layers: public endpoints give community aggregates and a pseudonymised feed (no addresses,
no token amounts: the chain is public, but the viewer does not make profiling members its front
page); member endpoints need a bearer token from /api/auth/verify and show only the caller's own
meters and bills; operators (OPERATOR_ROLE in the contract) see every member and the events the
indexer skipped as poison. No write endpoints.
"""
from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from web3 import Web3

from viewer.auth import Authenticator, AuthError, Session
from viewer.store import Store

STATIC = Path(__file__).parent / "static"
ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
MAX_PAGE = 500
MAX_BUCKETS = 2000
DAY = 86_400
MAX_TIME = 2**40 - 1  # uint40, as the contract stores timestamps

# ------------------------------------------------------------------------------------ models


class Page(BaseModel):
    total: int
    limit: int
    offset: int


class Status(BaseModel):
    indexed_block: int | None
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
    channel: int
    status: Literal["open", "settled"]


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
    address: Annotated[str, Field(pattern=ADDRESS_PATTERN)]
    signature: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte personal_sign signature")]


class SessionInfo(BaseModel):
    token: str | None = None
    address: str
    operator: bool
    expires: int


# ------------------------------------------------------------------------------------ parameters

AddressQuery = Annotated[str | None, Query(pattern=ADDRESS_PATTERN, description="0x-prefixed 20-byte address")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Time = Annotated[int | None, Query(ge=0, le=MAX_TIME, description="unix seconds")]
MeterId = PathParam(ge=1, le=2**32 - 1)
ADDRESS_PATH = PathParam(pattern=ADDRESS_PATTERN, description="0x-prefixed 20-byte address")
bearer = HTTPBearer(auto_error=False, description="token from POST /api/auth/verify")


def viewer_session(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Session:
    """The signed-in caller, or 401."""
    session = request.app.state.auth.session(creds.credentials) if creds else None
    if session is None:
        raise HTTPException(401, "sign in first: a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    return session


Viewer = Annotated[Session, Depends(viewer_session)]


def operator_session(session: Viewer) -> Session:
    """A signed-in operator, or 403."""
    if not session.operator:
        raise HTTPException(403, "operators only")
    return session


Operator = Annotated[Session, Depends(operator_session)]


def checksum(address: str | None) -> str | None:
    return Web3.to_checksum_address(address) if address else None


def time_range(store: Store, start: int | None, end: int | None, span: int = DAY) -> tuple[int, int]:
    """Default window: the last `span` seconds up to the latest reading (or now)."""
    end = end if end is not None else (store.latest_reading_time() or int(time.time()))
    start = start if start is not None else max(0, end - span)
    if start > end:
        raise HTTPException(422, f"inverted time range: from ({start}) is after to ({end})")
    return start, end


def create_app(store: Store, auth: Authenticator, poll_interval: float = 0.5, lifespan=None) -> FastAPI:
    @asynccontextmanager
    async def no_lifespan(app):
        yield

    app = FastAPI(
        title="DAISEE community viewer",
        version="1.0",
        description=(__doc__ or "").strip(),
        lifespan=lifespan or no_lifespan,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    app.state.auth = auth

    def allow(session: Session, address: str | None) -> None:
        if address is not None and address != session.address and not session.operator:
            raise HTTPException(403, "members may only see their own data")

    def own_meter(session: Session, meter_id: int) -> None:
        meter = store.meter(meter_id)
        if meter is None or (meter["owner"] != session.address and not session.operator):
            # Members get the same answer for "not yours" and "does not exist".
            raise HTTPException(404 if session.operator else 403, f"meter {meter_id} is not visible to you")

    # ------------------------------------------------------------------ public

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/status", response_model=Status, tags=["public"])
    def status() -> Status:
        return Status(indexed_block=store.cursor(), server_time=int(time.time()))

    @app.get("/api/totals", response_model=Totals, tags=["public"])
    def totals() -> dict:
        """Community aggregates: meters, energy, purchases, token flows."""
        return store.totals()

    @app.get("/api/series", response_model=list[SeriesPoint], tags=["public"])
    def series(
        start: Annotated[Time, Query(alias="from")] = None,
        end: Annotated[Time, Query(alias="to")] = None,
        bucket: Annotated[int, Query(ge=10, le=DAY, description="bucket width, seconds")] = 300,
    ) -> list[dict]:
        """Community production, consumption (Wh per bucket) and mean state of charge."""
        start, end = time_range(store, start, end)
        if (end - start) // bucket > MAX_BUCKETS:
            raise HTTPException(422, f"too many buckets: widen `bucket` so that (to - from) / bucket <= {MAX_BUCKETS}")
        return store.series(start, end, bucket)

    @app.get("/api/feed", response_model=list[FeedItem], tags=["public"])
    def feed(limit: Annotated[int, Query(ge=1, le=200)] = 30) -> list[dict]:
        """Latest purchases opened and settled, oldest first, pseudonymised."""
        return store.activity(limit=limit)

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
            while not await request.is_disconnected():
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

    @app.get("/api/auth/challenge", response_model=Challenge, tags=["auth"])
    def challenge(address: Annotated[str, Query(pattern=ADDRESS_PATTERN)]) -> Challenge:
        """The text to sign with `personal_sign` (EIP-191) to sign in as `address`."""
        address = checksum(address)
        message, expires = auth.challenge(address)
        return Challenge(address=address, message=message, expires=int(expires))

    @app.post("/api/auth/verify", response_model=SessionInfo, tags=["auth"],
              responses={401: {"description": "bad or expired challenge signature"}})
    def verify(body: VerifyRequest) -> SessionInfo:
        """Exchange a signed challenge for a short-lived bearer token."""
        try:
            token, session = auth.verify(checksum(body.address), body.signature)
        except AuthError as exc:
            raise HTTPException(401, str(exc)) from exc
        return SessionInfo(token=token, address=session.address, operator=session.operator, expires=int(session.expires))

    @app.get("/api/auth/me", response_model=SessionInfo, tags=["auth"])
    def me(session: Viewer) -> SessionInfo:
        return SessionInfo(address=session.address, operator=session.operator, expires=int(session.expires))

    # ------------------------------------------------------------------ members and operators

    @app.get("/api/meters", response_model=list[Meter], tags=["members"])
    def meters(session: Viewer) -> list[dict]:
        """Meters and their owners with the latest reading: all for operators, one's own for members."""
        return store.meters(None if session.operator else session.address)

    @app.get("/api/meters/{meter_id}/readings", response_model=ReadingPage, tags=["members"])
    def readings(
        session: Viewer,
        meter_id: Annotated[int, MeterId],
        start: Annotated[Time, Query(alias="from")] = None,
        end: Annotated[Time, Query(alias="to")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> ReadingPage:
        """Readings of one meter in [from, to] (unix seconds; default the last day of data)."""
        own_meter(session, meter_id)
        start, end = time_range(store, start, end)
        total, rows = store.readings(meter_id, start, end, limit, offset)
        return ReadingPage(total=total, limit=limit, offset=offset, items=rows)

    @app.get("/api/meters/{meter_id}/series", response_model=list[SeriesPoint], tags=["members"])
    def meter_series(
        session: Viewer,
        meter_id: Annotated[int, MeterId],
        start: Annotated[Time, Query(alias="from")] = None,
        end: Annotated[Time, Query(alias="to")] = None,
        bucket: Annotated[int, Query(ge=10, le=DAY)] = 300,
    ) -> list[dict]:
        own_meter(session, meter_id)
        start, end = time_range(store, start, end)
        if (end - start) // bucket > MAX_BUCKETS:
            raise HTTPException(422, f"too many buckets: widen `bucket` so that (to - from) / bucket <= {MAX_BUCKETS}")
        return store.series(start, end, bucket, meter_id)

    @app.get("/api/purchases", response_model=PurchasePage, tags=["members"])
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

    @app.get("/api/members/{address}/summary", response_model=MemberSummary, tags=["members"])
    def summary(session: Viewer, address: Annotated[str, ADDRESS_PATH]) -> dict:
        """A member's bill: energy, purchases as buyer and seller, token balance (from Transfer events)."""
        address = checksum(address)
        allow(session, address)
        return store.member_summary(address)

    @app.get("/api/usage", response_model=list[Usage], tags=["members"])
    def usage(session: Viewer) -> list[dict]:
        """Purchased vs consumed per member: all for operators, one's own row for members."""
        return store.usage(None if session.operator else session.address)

    # ------------------------------------------------------------------ operators only

    @app.get("/api/operator/poison", response_model=PoisonPage, tags=["operators"])
    def poison(session: Operator, limit: Limit = 50, offset: Offset = 0) -> PoisonPage:
        """Events the indexer could not store (their values or fields were unusable) and skipped, newest
        first: each is logged once and indexing went on past it."""
        total, rows = store.poison_events(limit, offset)
        return PoisonPage(total=total, limit=limit, offset=offset, items=rows)

    return app

