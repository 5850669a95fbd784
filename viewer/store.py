"""SQLite (WAL) store of the indexed events: the only place that knows the schema.

Token amounts (uint256) and energy quantities (uint64 meter counters and their deltas, uint256 Wh of
purchases) can exceed SQLite's signed 64-bit INTEGER, so they are stored as decimal text and summed
with the `bigsum` aggregate (Python ints): SQLite's SUM would also fail on values that each fit.
The store hands Wh out as ints and token amounts as decimal strings. Ids, sequence numbers,
timestamps and blocks (uint32/uint40) stay INTEGER. Each indexed range is written with its cursor
in one transaction, so a crash never leaves half a range; an event that cannot be written is
recorded in `poison_events` and skipped, so no event stops indexing; `rollback(fork)` undoes
everything above a reorg's fork point.
"""
from __future__ import annotations

import json
import operator
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable

from daisee.chain import ChainEvent

# Purchase aggregates kept as running counters (updated with each indexed range, recomputed after a
# reorg), so that /api/totals reads a few rows instead of summing every purchase.
COUNTER_SQL = """SELECT COUNT(*) AS purchases, COALESCE(SUM(settled_block IS NULL), 0) AS open_purchases,
    COALESCE(bigsum(wh), '0') AS bought_wh, COALESCE(bigsum(delivered_wh), '0') AS delivered_wh,
    COALESCE(bigsum(amount), '0') AS volume, COALESCE(bigsum(paid), '0') AS paid,
    COALESCE(bigsum(refunded), '0') AS refunded, COALESCE(bigsum(fee), '0') AS fees FROM purchases"""
COUNTERS = ("purchases", "open_purchases", "bought_wh", "delivered_wh", "volume", "paid", "refunded", "fees")

# Bumped when the layout changes: the store only mirrors the chain, so an older one is dropped and
# indexed again (version 2: Wh as decimal text, poison_events; 3: members' balances in the exchange,
# meter replacements; 4: the collective allocation; 5: pre-aggregated steps and counters; 6: periods on
# chain, rule versions, governance proposals and votes, settlement moves; 7: the allocation per step).
SCHEMA_VERSION = 7
# Width of the pre-aggregated community steps (seconds): series with a bucket that is a multiple of it
# read the `steps` table (one row per step) instead of every reading.
STEP = 300
SKIP_REASONS = {0: "no eligible seller", 1: "insufficient balance", 2: "stale reading"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meters (
    meter_id INTEGER PRIMARY KEY, owner TEXT NOT NULL, oracle TEXT NOT NULL, kind INTEGER NOT NULL,
    block_number INTEGER NOT NULL, deactivated_block INTEGER);
CREATE INDEX IF NOT EXISTS meters_owner ON meters (owner);
CREATE TABLE IF NOT EXISTS oracle_changes (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, meter_id INTEGER NOT NULL, oracle TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index));
CREATE TABLE IF NOT EXISTS readings (
    meter_id INTEGER NOT NULL, seq INTEGER NOT NULL, timestamp INTEGER NOT NULL,
    produced_wh TEXT NOT NULL, consumed_wh TEXT NOT NULL, soc_permille INTEGER NOT NULL,
    produced_delta TEXT NOT NULL, consumed_delta TEXT NOT NULL, block_number INTEGER NOT NULL,
    PRIMARY KEY (meter_id, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_time ON readings (timestamp);
CREATE INDEX IF NOT EXISTS readings_meter_time ON readings (meter_id, timestamp);
CREATE INDEX IF NOT EXISTS readings_block ON readings (block_number);
CREATE TABLE IF NOT EXISTS purchases (
    purchase_id INTEGER PRIMARY KEY, buyer TEXT NOT NULL, seller TEXT NOT NULL, wh TEXT NOT NULL,
    amount TEXT NOT NULL, channel INTEGER NOT NULL,
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_hash TEXT NOT NULL, opened_at INTEGER,
    delivered_wh TEXT, paid TEXT, refunded TEXT, fee TEXT,
    settled_block INTEGER, settled_log_index INTEGER, settled_tx TEXT, settled_at INTEGER);
CREATE INDEX IF NOT EXISTS purchases_buyer ON purchases (buyer, purchase_id);
CREATE INDEX IF NOT EXISTS purchases_seller ON purchases (seller, purchase_id);
CREATE INDEX IF NOT EXISTS purchases_open ON purchases (block_number, log_index);
CREATE INDEX IF NOT EXISTS purchases_settled ON purchases (settled_block, settled_log_index);
CREATE TABLE IF NOT EXISTS skips (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, buyer TEXT NOT NULL, reason INTEGER NOT NULL,
    PRIMARY KEY (block_number, log_index));
CREATE TABLE IF NOT EXISTS transfers (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL,
    value TEXT NOT NULL, PRIMARY KEY (block_number, log_index));
CREATE INDEX IF NOT EXISTS transfers_sender ON transfers (sender);
CREATE INDEX IF NOT EXISTS transfers_recipient ON transfers (recipient);
CREATE TABLE IF NOT EXISTS balance_moves (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, member TEXT NOT NULL, amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index));
CREATE INDEX IF NOT EXISTS balance_moves_member ON balance_moves (member);
CREATE TABLE IF NOT EXISTS replacements (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, meter_id INTEGER NOT NULL,
    PRIMARY KEY (block_number, log_index));
CREATE TABLE IF NOT EXISTS allocations (
    member TEXT PRIMARY KEY, own_use_wh TEXT NOT NULL, local_wh TEXT NOT NULL, complement_wh TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS allocation_steps (
    member TEXT NOT NULL, t INTEGER NOT NULL, local_wh INTEGER NOT NULL, complement_wh INTEGER NOT NULL,
    PRIMARY KEY (member, t));
CREATE TABLE IF NOT EXISTS steps (
    t INTEGER PRIMARY KEY, produced_wh TEXT NOT NULL, consumed_wh TEXT NOT NULL, soc_sum INTEGER NOT NULL,
    readings INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS periods (
    period INTEGER NOT NULL, version INTEGER NOT NULL, inputs_root TEXT NOT NULL, allocation_root TEXT NOT NULL,
    statement_root TEXT NOT NULL, rules_version INTEGER NOT NULL, settlement_total TEXT NOT NULL,
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_hash TEXT NOT NULL,
    PRIMARY KEY (period, version));
CREATE TABLE IF NOT EXISTS rule_versions (
    version INTEGER PRIMARY KEY, effective_period INTEGER NOT NULL, block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL, tx_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS proposals (
    proposal_id TEXT PRIMARY KEY, proposer TEXT NOT NULL, description TEXT NOT NULL, vote_start INTEGER NOT NULL,
    vote_end INTEGER NOT NULL, block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS proposal_events (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, proposal_id TEXT NOT NULL, kind TEXT NOT NULL,
    eta INTEGER, PRIMARY KEY (block_number, log_index));
CREATE INDEX IF NOT EXISTS proposal_events_id ON proposal_events (proposal_id);
CREATE TABLE IF NOT EXISTS votes (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, proposal_id TEXT NOT NULL, voter TEXT NOT NULL,
    support INTEGER NOT NULL, weight TEXT NOT NULL, reason TEXT NOT NULL, tx_hash TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index));
CREATE INDEX IF NOT EXISTS votes_proposal ON votes (proposal_id);
CREATE INDEX IF NOT EXISTS votes_voter ON votes (voter);
CREATE TABLE IF NOT EXISTS settlement_moves (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, period INTEGER NOT NULL, version INTEGER NOT NULL,
    account TEXT NOT NULL, kind TEXT NOT NULL, amount TEXT NOT NULL, PRIMARY KEY (block_number, log_index));
CREATE INDEX IF NOT EXISTS settlement_moves_period ON settlement_moves (period, version);
CREATE TABLE IF NOT EXISTS poison_events (
    block_number INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_hash TEXT, name TEXT, args TEXT, error TEXT,
    PRIMARY KEY (block_number, log_index));
"""

ZERO_ADDRESS = "0x" + "0" * 40
# Result columns holding Wh (decimal text in SQLite), handed out as ints by `_rows`/`_one`.
WH_COLUMNS = frozenset({"produced_wh", "consumed_wh", "produced_delta", "consumed_delta", "wh", "delivered_wh",
                        "bought_wh", "sold_wh", "purchased_wh", "own_use_wh", "local_wh", "complement_wh"})
PURCHASE_COLUMNS = """purchase_id, buyer, seller, wh, amount, channel, block_number, tx_hash, opened_at,
    CASE WHEN settled_block IS NULL THEN 'open' ELSE 'settled' END AS status,
    delivered_wh, paid, refunded, fee, settled_block, settled_tx, settled_at"""


class BigSum:
    """SUM over decimal-text uint256 values, exact (SQLite's SUM would overflow). Over no rows
    SQLite returns NULL without asking us, hence the COALESCE around every use."""

    def __init__(self):
        self.total = 0

    def step(self, value):
        if value is not None:
            self.total += int(value)

    def finalize(self):
        return str(self.total)


def _decimal(value) -> str:
    """A uint of any width as the decimal text of its column; anything but an integer is the event's
    fault (str() would store "None" and break every later sum)."""
    return str(operator.index(value))


def _hex32(value) -> str:
    """A bytes32 as 0x-hex (what the browser compares its computed root with)."""
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise ValueError(f"{value!r} is not a bytes32")
    return "0x" + bytes(value).hex()


def _json_text(value) -> str:
    """Args of a poison record as JSON: bytes (hashed indexed values) in hex, anything else by repr."""
    return "0x" + bytes(value).hex() if isinstance(value, bytes) else repr(value)


def _dict(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for column in WH_COLUMNS.intersection(out):
        if out[column] is not None:
            out[column] = int(out[column])
    return out


class Store:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._cache: dict[str, tuple[int, Any]] = {}
        self._migrate()

    # ------------------------------------------------------------------ connections

    def db(self) -> sqlite3.Connection:
        """This thread's connection (API worker threads and the indexer thread each get one)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.create_aggregate("bigsum", 1, BigSum)
            self._local.conn = conn
        return conn

    def connection(self):
        return _Transaction(self.db())

    def _migrate(self) -> None:
        """Create the schema, or replace a layout of another version (checked again under the write
        lock: a `serve` and an `index` process may open the store at once)."""
        if self.db().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with self.connection() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return
            tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")
            for (table,) in tables.fetchall():
                db.execute(f'DROP TABLE "{table}"')
            for statement in SCHEMA.split(";"):  # executescript would commit the transaction first
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [_dict(r) for r in self.db().execute(sql, tuple(params))]

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        row = self.db().execute(sql, tuple(params)).fetchone()
        return _dict(row) if row is not None else None

    # ------------------------------------------------------------------ cursor and reorg bookkeeping

    def cursor(self) -> int | None:
        """Last block fully indexed, or None before the first range."""
        row = self._one("SELECT value FROM meta WHERE key = 'cursor'")
        return int(row["value"]) if row else None

    def set_allocation(self, shares: dict[str, dict]) -> None:
        """The collective allocation of the period (collective/, run by the PMO, not on chain): per member
        address its own use, local share and complement in Wh. Replaces the previous one."""
        with self.connection() as db:
            db.execute("DELETE FROM allocations")
            db.executemany("INSERT INTO allocations VALUES (?, ?, ?, ?)",
                           [(member, _decimal(s["own_use_wh"]), _decimal(s["local_wh"]), _decimal(s["complement_wh"]))
                            for member, s in shares.items()])
            self._set_cursor(db, self.cursor() or 0)  # a new store version: the cached aggregates change

    def set_allocation_steps(self, rows: Iterable[tuple[str, int, int, int]]) -> None:
        """The collective allocation per step: (member address, step end timestamp, local Wh, complement Wh)
        rows (simulation.collective.allocation_steps). Replaces the previous ones."""
        with self.connection() as db:
            db.execute("DELETE FROM allocation_steps")
            db.executemany("INSERT INTO allocation_steps VALUES (?, ?, ?, ?)",
                           [(m, int(t), int(local), int(complement)) for m, t, local, complement in rows])
            self._set_cursor(db, self.cursor() or 0)

    def allocation_steps(self, member: str, start: int, end: int) -> list[dict[str, Any]]:
        """A member's allocation per step ending in [start, end], oldest first."""
        return self._rows("SELECT t, local_wh, complement_wh FROM allocation_steps WHERE member = ? AND t BETWEEN ? AND ? "
                          "ORDER BY t", (member, start, end))

    def flows(self, address: str, start: int, end: int) -> dict[str, Any]:
        """Where a member's energy came from and went over readings, settlements and allocation steps
        timed in [start, end] (see viewer.api.Flows for each figure)."""
        readings = self.db().execute(
            """SELECT r.produced_delta, r.consumed_delta, r.soc_permille, r.meter_id FROM readings r
               JOIN meters m USING (meter_id) WHERE m.owner = ? AND r.timestamp BETWEEN ? AND ? ORDER BY r.seq""",
            (address, start, end)).fetchall()
        produced = [int(r[0]) for r in readings]
        consumed = [int(r[1]) for r in readings]
        own_use = sum(map(min, produced, consumed))
        first, last = {}, {}  # state of charge per meter at its first and last reading in the range
        for r in readings:
            first.setdefault(r[3], r[2])
            last[r[3]] = r[2]
        trade = self._one(
            """SELECT COALESCE(bigsum(CASE WHEN buyer = ? THEN delivered_wh END), '0') AS bought,
                      COALESCE(bigsum(CASE WHEN seller = ? THEN delivered_wh END), '0') AS sold
               FROM purchases WHERE (buyer = ? OR seller = ?) AND settled_at BETWEEN ? AND ?""",
            (address, address, address, address, start, end))
        allocation = self._one(
            """SELECT COALESCE(SUM(local_wh), 0) AS local_wh, COALESCE(SUM(complement_wh), 0) AS complement_wh,
                      COUNT(*) AS steps FROM allocation_steps WHERE member = ? AND t BETWEEN ? AND ?""",
            (address, start, end))
        return {
            "from": start, "to": end, "readings": len(readings),
            "produced_wh": sum(produced), "consumed_wh": sum(consumed), "own_use_wh": own_use,
            "from_network_wh": sum(consumed) - own_use, "exported_wh": sum(produced) - own_use,
            "soc_change_permille": sum(last[m] - first[m] for m in first) if readings else None,
            "bought_wh": int(trade["bought"]), "sold_wh": int(trade["sold"]),
            "allocation_steps": allocation["steps"], "local_wh": allocation["local_wh"],
            "complement_wh": allocation["complement_wh"],
        }

    def version(self) -> int:
        """Bumped by every range that wrote events (or a rollback): what the caches of whole-table
        aggregates are keyed on, so that a new empty block does not recompute them."""
        row = self._one("SELECT value FROM meta WHERE key = 'version'")
        return int(row["value"]) if row else 0

    @staticmethod
    def _set_cursor(db: sqlite3.Connection, cursor: int, changed: bool = True) -> None:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?)", (str(cursor),))
        if changed:
            db.execute(
                """INSERT INTO meta (key, value) VALUES ('version', '1')
                   ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"""
            )

    def _cached(self, name: str, compute):
        """`compute()` once per store version (aggregates over whole tables change only on writes)."""
        version = self.version()
        hit = self._cache.get(name)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = compute()
        self._cache[name] = (version, value)
        return value

    def recent_blocks(self) -> list[tuple[int, str]]:
        """(number, hash) of the remembered recent blocks, newest first."""
        return [(r["number"], r["hash"]) for r in self._rows("SELECT number, hash FROM blocks ORDER BY number DESC")]

    def apply(
        self,
        events: list[ChainEvent],
        cursor: int,
        block_hashes: dict[int, str],
        timestamps: dict[int, int] | None = None,
        keep_blocks: int = 64,
        chain_time: int | None = None,
    ) -> list[dict[str, Any]]:
        """Write one indexed range: its events, the hashes of its blocks, and the new cursor. An event
        that cannot be written is recorded in `poison_events` instead (once, however often its range
        is written); returns the poison records new to the store."""
        timestamps = timestamps or {}
        with self.connection() as db:
            writer = _EventWriter(db, timestamps)
            poisoned = [record for event in events if (record := writer.write(event)) is not None]
            self._refresh_steps(db, writer.steps)
            self._add_counters(db, writer.counters)
            db.executemany("INSERT OR REPLACE INTO blocks (number, hash) VALUES (?, ?)", block_hashes.items())
            db.execute(
                "DELETE FROM blocks WHERE number NOT IN (SELECT number FROM blocks ORDER BY number DESC LIMIT ?)",
                (keep_blocks,),
            )
            if chain_time is not None:  # the cursor block's timestamp: the governor's clock
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('chain_time', ?)", (str(chain_time),))
            self._set_cursor(db, cursor, changed=bool(events))
        return poisoned

    def chain_time(self) -> int | None:
        """Timestamp of the last indexed block (None before the first range)."""
        row = self._one("SELECT value FROM meta WHERE key = 'chain_time'")
        return int(row["value"]) if row else None

    @staticmethod
    def _refresh_steps(db: sqlite3.Connection, steps: set[int]) -> None:
        """Recompute the pre-aggregated community steps whose readings changed."""
        for t in sorted(steps):
            row = db.execute(
                """SELECT bigsum(produced_delta), bigsum(consumed_delta), SUM(soc_permille), COUNT(*)
                   FROM readings WHERE timestamp BETWEEN ? AND ?""", (t, t + STEP - 1)).fetchone()
            if row[3]:
                db.execute("INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?)", (t, *row))
            else:
                db.execute("DELETE FROM steps WHERE t = ?", (t,))

    @staticmethod
    def _add_counters(db: sqlite3.Connection, deltas: dict[str, int]) -> None:
        for key, delta in deltas.items():
            if delta:
                row = db.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
                db.execute("INSERT OR REPLACE INTO counters VALUES (?, ?)", (key, str(int(row[0] if row else 0) + delta)))

    def counters(self) -> dict[str, int]:
        values = {r["key"]: int(r["value"]) for r in self._rows("SELECT key, value FROM counters")}
        return {key: values.get(key, 0) for key in COUNTERS}

    def rollback(self, fork: int) -> None:
        """Forget everything above block `fork` (the last block still on the canonical chain)."""
        with self.connection() as db:
            steps = {r[0] for r in db.execute(
                "SELECT DISTINCT (timestamp / ?) * ? FROM readings WHERE block_number > ?", (STEP, STEP, fork))}
            for table in ("meters", "oracle_changes", "readings", "purchases", "skips", "transfers", "balance_moves",
                          "replacements", "periods", "rule_versions", "proposals", "proposal_events", "votes",
                          "settlement_moves", "poison_events", "blocks"):
                column = "number" if table == "blocks" else "block_number"
                db.execute(f"DELETE FROM {table} WHERE {column} > ?", (fork,))
            db.execute("UPDATE meters SET deactivated_block = NULL WHERE deactivated_block > ?", (fork,))
            db.execute(
                """UPDATE purchases SET delivered_wh = NULL, paid = NULL, refunded = NULL, fee = NULL,
                   settled_block = NULL, settled_log_index = NULL, settled_tx = NULL, settled_at = NULL
                   WHERE settled_block > ?""",
                (fork,),
            )
            self._refresh_steps(db, steps)
            db.execute("DELETE FROM counters")  # rare: recounted from the purchases left
            self._add_counters(db, {k: int(v) for k, v in dict(db.execute(COUNTER_SQL).fetchone()).items()})
            self._set_cursor(db, fork)

    # ------------------------------------------------------------------ queries: members and meters

    def meters(self, owner: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE m.owner = ?", [owner]) if owner else ("", [])
        return self._rows(
            f"""SELECT m.meter_id, m.owner, m.kind, m.deactivated_block IS NULL AS active, m.block_number,
                   COALESCE((SELECT oracle FROM oracle_changes c WHERE c.meter_id = m.meter_id
                             ORDER BY block_number DESC, log_index DESC LIMIT 1), m.oracle) AS oracle,
                   r.seq, r.timestamp, r.produced_wh, r.consumed_wh, r.soc_permille
               FROM meters m
               LEFT JOIN readings r ON r.meter_id = m.meter_id
                    AND r.seq = (SELECT MAX(seq) FROM readings WHERE meter_id = m.meter_id)
               {where} ORDER BY m.meter_id""",
            params,
        )

    def meter(self, meter_id: int) -> dict[str, Any] | None:
        return self._one("SELECT meter_id, owner FROM meters WHERE meter_id = ?", (meter_id,))

    def readings(self, meter_id: int, start: int, end: int, limit: int, offset: int) -> tuple[int, list[dict]]:
        where = "WHERE meter_id = ? AND timestamp BETWEEN ? AND ?"
        params = [meter_id, start, end]
        total = self.db().execute(f"SELECT COUNT(*) FROM readings {where}", params).fetchone()[0]
        rows = self._rows(
            f"""SELECT seq, timestamp, produced_wh, consumed_wh, soc_permille, produced_delta, consumed_delta,
                       block_number FROM readings {where} ORDER BY timestamp, seq LIMIT ? OFFSET ?""",
            [*params, limit, offset],
        )
        return total, rows

    def _exact_sums(self, sql: str, params: list) -> list[dict[str, Any]]:
        """`sql` with each `{SUM}(column)` summed by SQLite itself (C, the GIL released: a heavy query
        does not stall the other endpoints) when every value has at most 18 digits and no sum
        overflows 64 bits; otherwise again with the exact `bigsum` (Python)."""
        columns = re.findall(r"\{SUM\}\((\w+)\)", sql)
        widths = ", ".join(f"MAX(length({c}))" for c in columns)
        native = re.sub(r"\{SUM\}\((\w+)\)", r"SUM(CAST(\1 AS INTEGER))", sql).replace(
            "SELECT ", f"SELECT MAX({widths}, 0) AS _width, ", 1)
        try:
            rows = self._rows(native, params)
            if all((r["_width"] or 0) < 19 for r in rows):
                for r in rows:
                    del r["_width"]
                return rows
        except sqlite3.OperationalError as exc:
            if "overflow" not in str(exc):
                raise
        return self._rows(re.sub(r"\{SUM\}\((\w+)\)", r"bigsum(\1)", sql), params)

    def series(self, start: int, end: int, bucket: int, meter_id: int | None = None) -> list[dict[str, Any]]:
        """Energy produced/consumed per time bucket and mean state of charge, community-wide or one meter."""
        if meter_id is None and bucket % STEP == 0:  # the pre-aggregated steps (`from` rounded down to a step)
            rows = self._exact_sums(
                """SELECT (t / ?) * ? AS b, {SUM}(produced_wh) AS produced_wh, {SUM}(consumed_wh) AS consumed_wh,
                          CAST(ROUND(SUM(soc_sum) * 1.0 / SUM(readings)) AS INTEGER) AS soc_permille
                   FROM steps WHERE t BETWEEN ? AND ? GROUP BY b ORDER BY b""",
                [bucket, bucket, start - start % STEP, end])
            return [{"t": r.pop("b"), **r} for r in rows]
        where, params = "WHERE timestamp BETWEEN ? AND ?", [start, end]
        if meter_id is not None:
            where, params = where + " AND meter_id = ?", params + [meter_id]
        return self._exact_sums(
            f"""SELECT (timestamp / ?) * ? AS t, {{SUM}}(produced_delta) AS produced_wh,
                       {{SUM}}(consumed_delta) AS consumed_wh, CAST(ROUND(AVG(soc_permille)) AS INTEGER) AS soc_permille
                FROM readings {where} GROUP BY t ORDER BY t""",
            [bucket, bucket, *params])

    def latest_reading_time(self) -> int | None:
        return self.db().execute("SELECT MAX(timestamp) FROM readings").fetchone()[0]

    # ------------------------------------------------------------------ queries: purchases

    def purchases(
        self,
        limit: int,
        offset: int,
        member: str | None = None,
        buyer: str | None = None,
        seller: str | None = None,
        status: str | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        clauses, params = [], []
        if member:
            clauses.append("(buyer = ? OR seller = ?)")
            params += [member, member]
        if buyer:
            clauses.append("buyer = ?")
            params.append(buyer)
        if seller:
            clauses.append("seller = ?")
            params.append(seller)
        if status == "open":
            clauses.append("settled_block IS NULL")
        elif status == "settled":
            clauses.append("settled_block IS NOT NULL")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        total = self.db().execute(f"SELECT COUNT(*) FROM purchases {where}", params).fetchone()[0]
        rows = self._rows(
            f"SELECT {PURCHASE_COLUMNS} FROM purchases {where} ORDER BY purchase_id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return total, rows

    def activity(self, after: tuple[int, int] | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Purchases opened and settled after chain position `after` (block, log index), oldest first;
        without a position, the latest `limit` of them."""
        newest_first = after is None
        after = after or (-1, -1)
        order = "DESC" if newest_first else "ASC"
        # each half limited on its own index first, so that only 2 * limit rows are merged
        rows = self._rows(
            f"""SELECT * FROM (SELECT * FROM (
                  SELECT 'BuyEnergy' AS kind, block_number AS block, log_index, opened_at AS at, {PURCHASE_COLUMNS}
                  FROM purchases WHERE (block_number, log_index) > (?, ?)
                  ORDER BY block_number {order}, log_index {order} LIMIT ?)
                UNION ALL SELECT * FROM (
                  SELECT 'PurchaseSettled', settled_block, settled_log_index, settled_at, {PURCHASE_COLUMNS}
                  FROM purchases WHERE settled_block IS NOT NULL AND (settled_block, settled_log_index) > (?, ?)
                  ORDER BY settled_block {order}, settled_log_index {order} LIMIT ?))
                ORDER BY block {order}, log_index {order} LIMIT ?""",
            [*after, limit, *after, limit, limit],
        )
        return rows[::-1] if newest_first else rows

    # ------------------------------------------------------------------ queries: summaries

    def balance(self, address: str) -> str:
        """Token balance from Transfer events: received - sent (the zero address gives -supply)."""
        flows = [
            int(self.db().execute(f"SELECT COALESCE(bigsum(value), '0') FROM transfers WHERE {column} = ?",
                                  (address,)).fetchone()[0])
            for column in ("recipient", "sender")
        ]
        return str(flows[0] - flows[1])

    def member_summary(self, address: str) -> dict[str, Any]:
        meter = self._one(
            """SELECT m.meter_id, m.kind, r.produced_wh, r.consumed_wh, r.soc_permille FROM meters m
               LEFT JOIN readings r ON r.meter_id = m.meter_id
                    AND r.seq = (SELECT MAX(seq) FROM readings WHERE meter_id = m.meter_id)
               WHERE m.owner = ?""",
            (address,),
        ) or {}
        bought = self._one(
            """SELECT COUNT(*) AS purchases, COALESCE(bigsum(wh), '0') AS bought_wh,
                      COALESCE(bigsum(delivered_wh), '0') AS delivered_wh, COALESCE(bigsum(amount), '0') AS spent,
                      COALESCE(bigsum(paid), '0') AS paid, COALESCE(bigsum(refunded), '0') AS refunded,
                      COALESCE(bigsum(fee), '0') AS fees
               FROM purchases WHERE buyer = ?""",
            (address,),
        )
        sold = self._one(
            """SELECT COUNT(*) AS sales, COALESCE(bigsum(delivered_wh), '0') AS sold_wh,
                      COALESCE(bigsum(paid), '0') AS earned
               FROM purchases WHERE seller = ?""",
            (address,),
        )
        return {
            "address": address,
            "meter_id": meter.get("meter_id"),
            "kind": meter.get("kind"),
            "produced_wh": meter.get("produced_wh") or 0,
            "consumed_wh": meter.get("consumed_wh") or 0,
            "soc_permille": meter.get("soc_permille"),
            **bought,
            **sold,
            "token_balance": self.balance(address),
            "exchange_balance": self.exchange_balance(address, bought, sold),
        }

    def exchange_balance(self, address: str, bought: dict, sold: dict) -> str:
        """The member's balance in the exchange: deposits - withdrawals (signed `balance_moves`),
        minus what its purchases escrowed, plus their refunds and its sales' pay."""
        moved = int(self.db().execute("SELECT COALESCE(bigsum(amount), '0') FROM balance_moves WHERE member = ?",
                                      (address,)).fetchone()[0])
        return str(moved - int(bought["spent"]) + int(bought["refunded"]) + int(sold["earned"]))

    def usage(self, owner: str | None = None) -> list[dict[str, Any]]:
        """The old page's "purchased vs consumed" table: per member, Wh consumed and Wh bought."""
        if owner is None:
            return self._cached("usage", lambda: self._usage(""))
        return self._usage("WHERE buyer = ?", [owner, owner])

    def _usage(self, buyer_filter: str, params: list | None = None) -> list[dict[str, Any]]:
        where = "WHERE m.owner = ?" if buyer_filter else ""
        return self._rows(
            f"""SELECT m.meter_id, m.owner, m.kind, COALESCE(r.consumed_wh, '0') AS consumed_wh,
                       COALESCE(p.purchased_wh, '0') AS purchased_wh, COALESCE(p.delivered_wh, '0') AS delivered_wh,
                       a.local_wh, a.complement_wh
                FROM meters m
                LEFT JOIN allocations a ON a.member = m.owner
                LEFT JOIN readings r ON r.meter_id = m.meter_id
                     AND r.seq = (SELECT MAX(seq) FROM readings WHERE meter_id = m.meter_id)
                LEFT JOIN (SELECT buyer, bigsum(wh) AS purchased_wh, bigsum(delivered_wh) AS delivered_wh
                           FROM purchases {buyer_filter} GROUP BY buyer) p ON p.buyer = m.owner
                {where} ORDER BY m.meter_id""",
            params or [],
        )

    def totals(self) -> dict[str, Any]:
        """Community aggregates (cached per store version: they scan whole tables)."""
        return {**self._cached("totals", self._totals), "indexed_block": self.cursor()}

    def _totals(self) -> dict[str, Any]:
        return {
            "indexed_block": self.cursor(),
            **self._one(
                """SELECT COUNT(*) AS meters, COUNT(DISTINCT owner) AS members,
                          COALESCE(SUM(deactivated_block IS NULL), 0) AS active_meters FROM meters"""
            ),
            # every aggregate below reads the pre-aggregated steps, the counters or one row per meter
            "readings": self.db().execute("SELECT COALESCE(SUM(readings), 0) FROM steps").fetchone()[0],
            **self._one(
                """SELECT COALESCE(bigsum(r.produced_wh), '0') AS produced_wh,
                          COALESCE(bigsum(r.consumed_wh), '0') AS consumed_wh
                   FROM meters m JOIN readings r ON r.meter_id = m.meter_id
                        AND r.seq = (SELECT MAX(seq) FROM readings WHERE meter_id = m.meter_id)"""
            ),
            **{k: str(v) if k in ("volume", "paid", "refunded", "fees") else v for k, v in self.counters().items()},
            "skipped": self.db().execute("SELECT COUNT(*) FROM skips").fetchone()[0],
            **self._one("SELECT bigsum(local_wh) AS local_wh, bigsum(complement_wh) AS complement_wh FROM allocations"),
            "token_supply": str(-int(self.balance(ZERO_ADDRESS))),  # minted - burnt
        }

    def public_purchases(self, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """Every purchase, newest first, without who, for how much or on which channel (public layer)."""
        rows = self._rows(
            """SELECT purchase_id, wh, delivered_wh, opened_at, settled_at, block_number,
                      CASE WHEN settled_block IS NULL THEN 'open' ELSE 'settled' END AS status
               FROM purchases ORDER BY purchase_id DESC LIMIT ? OFFSET ?""", (limit, offset))
        return self.counters()["purchases"], rows

    def member_daily(self, address: str, start: int, end: int) -> list[dict[str, Any]]:
        """A member's money per UTC day in [start, end]: escrowed by its purchases (spent), paid, refunded
        and fees of its purchases settled that day, and its sales' pay (earned)."""
        rows: dict[int, dict[str, int]] = {}
        queries = (
            ("opened_at", "buyer", "bigsum(amount) AS spent, bigsum(wh) AS bought_wh"),
            ("settled_at", "buyer", "bigsum(paid) AS paid, bigsum(refunded) AS refunded, bigsum(fee) AS fees, "
                                    "bigsum(delivered_wh) AS delivered_wh"),
            ("settled_at", "seller", "bigsum(paid) AS earned, bigsum(delivered_wh) AS sold_wh"),
        )
        for at, side, sums in queries:
            for row in self._rows(
                    f"""SELECT ({at} / 86400) * 86400 AS day, {sums} FROM purchases
                        WHERE {side} = ? AND {at} BETWEEN ? AND ? GROUP BY day""", (address, start, end)):
                rows.setdefault(row.pop("day"), {}).update({k: int(v) for k, v in row.items()})
        keys = ("spent", "paid", "refunded", "fees", "earned", "bought_wh", "delivered_wh", "sold_wh")
        return [{"day": day, **{k: values.get(k, 0) for k in keys}} for day, values in sorted(rows.items())]

    # ------------------------------------------------------------------ queries: periods and governance

    def periods(self) -> list[dict[str, Any]]:
        """Every committed period version, newest period first, with what the settlement collected and
        paid for it; `superseded` when a later version of the same period was committed."""
        return self._rows(
            """SELECT p.period, p.version, p.inputs_root, p.allocation_root, p.statement_root, p.rules_version,
                      p.settlement_total, p.block_number, p.tx_hash,
                      COALESCE((SELECT bigsum(amount) FROM settlement_moves s WHERE s.period = p.period
                                AND s.version = p.version AND s.kind = 'collected'), '0') AS collected,
                      COALESCE((SELECT bigsum(amount) FROM settlement_moves s WHERE s.period = p.period
                                AND s.version = p.version AND s.kind = 'paid'), '0') AS paid,
                      EXISTS (SELECT 1 FROM periods q WHERE q.period = p.period AND q.version > p.version)
                          AS superseded
               FROM periods p ORDER BY p.period DESC, p.version DESC""")

    def rule_versions(self) -> list[dict[str, Any]]:
        return self._rows("SELECT version, effective_period, block_number, tx_hash FROM rule_versions ORDER BY version")

    def proposals(self) -> list[dict[str, Any]]:
        """Every proposal, newest first, with its tallies (sum of the indexed votes' weights) and what
        happened to it (queued with its eta, executed, canceled)."""
        rows = self._rows(
            """SELECT p.proposal_id, p.proposer, p.description, p.vote_start, p.vote_end, p.block_number, p.tx_hash,
                      COALESCE((SELECT bigsum(weight) FROM votes v WHERE v.proposal_id = p.proposal_id
                                AND v.support = 1), '0') AS votes_for,
                      COALESCE((SELECT bigsum(weight) FROM votes v WHERE v.proposal_id = p.proposal_id
                                AND v.support = 0), '0') AS votes_against,
                      COALESCE((SELECT bigsum(weight) FROM votes v WHERE v.proposal_id = p.proposal_id
                                AND v.support = 2), '0') AS votes_abstain,
                      (SELECT COUNT(*) FROM votes v WHERE v.proposal_id = p.proposal_id) AS voters
               FROM proposals p ORDER BY p.block_number DESC, p.log_index DESC""")
        events: dict[str, dict[str, Any]] = {}
        for e in self._rows("SELECT proposal_id, kind, eta FROM proposal_events ORDER BY block_number, log_index"):
            events.setdefault(e["proposal_id"], {})[e["kind"]] = e["eta"]
        for row in rows:
            row["events"] = events.get(row["proposal_id"], {})
        return rows

    def votes(self, voter: str) -> list[dict[str, Any]]:
        """`voter`'s votes, newest first, with the proposal's description."""
        return self._rows(
            """SELECT v.proposal_id, v.support, v.weight, v.reason, v.block_number, v.tx_hash, p.description
               FROM votes v LEFT JOIN proposals p ON p.proposal_id = v.proposal_id
               WHERE v.voter = ? ORDER BY v.block_number DESC, v.log_index DESC""", (voter,))

    # ------------------------------------------------------------------ queries: operators

    def poison_events(self, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """Events the indexer could not write and skipped, newest first."""
        total = self.db().execute("SELECT COUNT(*) FROM poison_events").fetchone()[0]
        rows = self._rows(
            """SELECT block_number, log_index, tx_hash, name, args, error FROM poison_events
               ORDER BY block_number DESC, log_index DESC LIMIT ? OFFSET ?""",
            (limit, offset),
        )
        return total, rows

    def open_purchases(self, now: int, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """Open purchases, oldest first, with their age in seconds at `now`."""
        total = self.counters()["open_purchases"]
        rows = self._rows(
            f"""SELECT {PURCHASE_COLUMNS}, ? - opened_at AS age_s FROM purchases WHERE settled_block IS NULL
                ORDER BY block_number, log_index LIMIT ? OFFSET ?""", (now, limit, offset))
        return total, rows

    def skips(self, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """Purchases the exchange skipped (PurchaseSkipped), newest first, with the reason."""
        total = self.db().execute("SELECT COUNT(*) FROM skips").fetchone()[0]
        rows = self._rows("SELECT block_number, log_index, buyer, reason FROM skips "
                          "ORDER BY block_number DESC, log_index DESC LIMIT ? OFFSET ?", (limit, offset))
        return total, [{**r, "reason_text": SKIP_REASONS.get(r["reason"], "unknown")} for r in rows]

    def set_node(self, head: int, seen_at: int) -> None:
        """The chain head the indexer last saw and when the node last answered (not a store version)."""
        with self.connection() as db:
            db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                           [("head", str(head)), ("node_seen_at", str(seen_at))])

    def node(self) -> tuple[int | None, int | None]:
        values = {r["key"]: int(r["value"]) for r in self._rows(
            "SELECT key, value FROM meta WHERE key IN ('head', 'node_seen_at')")}
        return values.get("head"), values.get("node_seen_at")


class _Transaction:
    """`with` block = one IMMEDIATE transaction (the writer takes the lock up front)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


class _EventWriter:
    """Turns decoded events into rows; events of other kinds (offers, rules, roles...) are not stored."""

    def __init__(self, db: sqlite3.Connection, timestamps: dict[int, int]):
        self.db, self.timestamps = db, timestamps
        self._counters: dict[int, tuple[int, int]] = {}
        self._epochs: dict[int, int] = {}
        self.steps: set[int] = set()  # community steps whose readings changed
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)  # purchase aggregates added by the range
        self._pending: dict[str, int] = {}

    def write(self, e: ChainEvent) -> dict[str, Any] | None:
        """Writes `e`'s rows, or records it as poison: returns the poison record if new."""
        handler = getattr(self, f"_{e.name}", None)
        if handler is None:
            return None
        self.db.execute("SAVEPOINT event")  # a failing handler leaves none of its rows
        try:
            if e.error:
                raise ValueError(e.error)
            self._pending = {}
            handler(e, e.args)
            for key, delta in self._pending.items():  # only once the event's rows are all written
                self.counters[key] += delta
            record = None
        except sqlite3.OperationalError:
            raise  # the database's trouble (locked, full, I/O), not the event's: the range is retried
        except Exception as exc:  # noqa: BLE001 - whatever the event holds, indexing must go on
            self.db.execute("ROLLBACK TO event")
            record = {
                "block_number": e.block_number, "log_index": e.log_index, "tx_hash": e.tx_hash, "name": e.name,
                "args": json.dumps(e.args, default=_json_text), "error": f"{type(exc).__name__}: {exc}",
            }
            # keyed by chain position: writing the range again (after a crash) does not record it twice
            if not self.db.execute(
                """INSERT OR IGNORE INTO poison_events
                   VALUES (:block_number, :log_index, :tx_hash, :name, :args, :error)""", record
            ).rowcount:
                record = None
        self.db.execute("RELEASE event")
        return record

    def _MeterRegistered(self, e: ChainEvent, a: dict) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO meters (meter_id, owner, oracle, kind, block_number) VALUES (?, ?, ?, ?, ?)",
            (a["meterId"], a["owner"], a["oracle"], int(a["kind"]), e.block_number),
        )

    def _MeterOracleChanged(self, e: ChainEvent, a: dict) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO oracle_changes VALUES (?, ?, ?, ?)",
            (e.block_number, e.log_index, a["meterId"], a["oracle"]),
        )

    def _MeterDeactivated(self, e: ChainEvent, a: dict) -> None:
        self.db.execute("UPDATE meters SET deactivated_block = ? WHERE meter_id = ?", (e.block_number, a["meterId"]))

    def _MeterReading(self, e: ChainEvent, a: dict) -> None:
        meter_id = a["meterId"]
        # A replaced meter's seq restarts at 1: the store's seq carries the replacement count above
        # bit 32, so a meter's readings stay unique and ordered across its physical meters.
        epoch = self._epoch(meter_id)
        seq = epoch << 32 | a["seq"]
        previous = self._counters.get(meter_id)
        if previous is None:
            row = self.db.execute(
                "SELECT produced_wh, consumed_wh, seq FROM readings WHERE meter_id = ? ORDER BY seq DESC LIMIT 1",
                (meter_id,),
            ).fetchone()
            if row and row[2] >> 32 == epoch:
                previous = (int(row[0]), int(row[1]))
            else:  # a meter's first reading is its baseline (counters may start anywhere); a new one starts at 0
                previous = (0, 0) if epoch else (a["producedWh"], a["consumedWh"])
        self.db.execute(
            "INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (meter_id, seq, a["timestamp"], _decimal(a["producedWh"]), _decimal(a["consumedWh"]),
             a["socPermille"], _decimal(a["producedWh"] - previous[0]), _decimal(a["consumedWh"] - previous[1]),
             e.block_number),
        )
        self.steps.add(a["timestamp"] - a["timestamp"] % STEP)
        self._counters[meter_id] = (a["producedWh"], a["consumedWh"])

    def _epoch(self, meter_id: int) -> int:
        """How many times the meter was replaced so far."""
        if meter_id not in self._epochs:
            self._epochs[meter_id] = self.db.execute("SELECT COUNT(*) FROM replacements WHERE meter_id = ?",
                                                     (meter_id,)).fetchone()[0]
        return self._epochs[meter_id]

    def _count(self, purchase_id: int, sign: int) -> None:
        """Add (sign 1) or take out (sign -1) a stored purchase's share of the counters."""
        row = self.db.execute("SELECT wh, amount, settled_block IS NULL, delivered_wh, paid, refunded, fee "
                              "FROM purchases WHERE purchase_id = ?", (purchase_id,)).fetchone()
        if row is None:
            return
        wh, amount, is_open, delivered, paid, refunded, fee = row
        values = {"purchases": 1, "open_purchases": is_open, "bought_wh": wh, "delivered_wh": delivered,
                  "volume": amount, "paid": paid, "refunded": refunded, "fees": fee}
        for key, value in values.items():
            self._pending[key] = self._pending.get(key, 0) + sign * int(value or 0)

    def _BuyEnergy(self, e: ChainEvent, a: dict) -> None:
        self._count(a["purchaseId"], -1)
        self.db.execute(
            """INSERT OR REPLACE INTO purchases (purchase_id, buyer, seller, wh, amount, channel, block_number,
                   log_index, tx_hash, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (a["purchaseId"], a["buyer"], a["seller"], _decimal(a["wh"]), _decimal(a["amount"]), a["channel"],
             e.block_number, e.log_index, e.tx_hash, self.timestamps.get(e.block_number)),
        )
        self._count(a["purchaseId"], 1)

    def _PurchaseSettled(self, e: ChainEvent, a: dict) -> None:
        self._count(a["purchaseId"], -1)
        self.db.execute(
            """UPDATE purchases SET delivered_wh = ?, paid = ?, refunded = ?, fee = ?, settled_block = ?,
                   settled_log_index = ?, settled_tx = ?, settled_at = ? WHERE purchase_id = ?""",
            (_decimal(a["deliveredWh"]), _decimal(a["paid"]), _decimal(a["refunded"]), _decimal(a["fee"]),
             e.block_number, e.log_index, e.tx_hash, self.timestamps.get(e.block_number), a["purchaseId"]),
        )
        self._count(a["purchaseId"], 1)

    def _PurchaseSkipped(self, e: ChainEvent, a: dict) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO skips VALUES (?, ?, ?, ?)", (e.block_number, e.log_index, a["buyer"], int(a["reason"]))
        )

    def _MeterReplaced(self, e: ChainEvent, a: dict) -> None:
        # The new physical meter counts from zero: the next reading's delta is measured from there.
        self.db.execute("INSERT OR REPLACE INTO replacements VALUES (?, ?, ?)", (e.block_number, e.log_index, a["meterId"]))
        self._epochs.pop(a["meterId"], None)
        self._counters[a["meterId"]] = (0, 0)

    def _Deposited(self, e: ChainEvent, a: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO balance_moves VALUES (?, ?, ?, ?)",
                        (e.block_number, e.log_index, a["member"], _decimal(a["amount"])))

    def _Withdrawn(self, e: ChainEvent, a: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO balance_moves VALUES (?, ?, ?, ?)",
                        (e.block_number, e.log_index, a["member"], _decimal(-a["amount"])))

    def _Transfer(self, e: ChainEvent, a: dict) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO transfers VALUES (?, ?, ?, ?, ?)",
            (e.block_number, e.log_index, a["from"], a["to"], _decimal(a["value"])),
        )


    # governance, periods and settlement (only indexed when the deployment has these contracts)

    def _PeriodCommitted(self, e: ChainEvent, a: dict) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO periods VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (a["period"], a["version"], _hex32(a["inputsRoot"]), _hex32(a["allocationRoot"]),
             _hex32(a["statementRoot"]), a["rulesVersion"], _decimal(a["settlementTotal"]), e.block_number,
             e.log_index, e.tx_hash),
        )

    def _RulesSet(self, e: ChainEvent, a: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO rule_versions VALUES (?, ?, ?, ?, ?)",
                        (a["version"], a["effectiveFromPeriod"], e.block_number, e.log_index, e.tx_hash))

    def _ProposalCreated(self, e: ChainEvent, a: dict) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO proposals VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (_decimal(a["proposalId"]), a["proposer"], str(a["description"]), operator.index(a["voteStart"]),
             operator.index(a["voteEnd"]), e.block_number, e.log_index, e.tx_hash),
        )

    def _proposal_event(self, e: ChainEvent, a: dict, kind: str, eta: int | None = None) -> None:
        self.db.execute("INSERT OR REPLACE INTO proposal_events VALUES (?, ?, ?, ?, ?)",
                        (e.block_number, e.log_index, _decimal(a["proposalId"]), kind, eta))

    def _ProposalQueued(self, e: ChainEvent, a: dict) -> None:
        self._proposal_event(e, a, "queued", operator.index(a["etaSeconds"]))

    def _ProposalExecuted(self, e: ChainEvent, a: dict) -> None:
        self._proposal_event(e, a, "executed")

    def _ProposalCanceled(self, e: ChainEvent, a: dict) -> None:
        self._proposal_event(e, a, "canceled")

    def _VoteCast(self, e: ChainEvent, a: dict) -> None:
        if a["support"] not in (0, 1, 2):
            raise ValueError(f"support {a['support']} is not 0 (against), 1 (for) or 2 (abstain)")
        self.db.execute("INSERT OR REPLACE INTO votes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (e.block_number, e.log_index, _decimal(a["proposalId"]), a["voter"], a["support"],
                         _decimal(a["weight"]), str(a["reason"]), e.tx_hash))

    def _settlement(self, e: ChainEvent, a: dict, kind: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO settlement_moves VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (e.block_number, e.log_index, a["period"], a["version"], a["account"], kind,
                         _decimal(a["amount"])))

    def _Collected(self, e: ChainEvent, a: dict) -> None:
        self._settlement(e, a, "collected")

    def _Paid(self, e: ChainEvent, a: dict) -> None:
        self._settlement(e, a, "paid")
