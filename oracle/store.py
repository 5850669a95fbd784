"""The oracle's durable queue (SQLite in WAL mode, fsync on commit).

A reading and the meter state it came from are committed in one transaction before anything is
sent, so a crash or power cut at any instant leaves a consistent queue. Rows are marked sent
only after the receipt, or when the chain's `meter(id).seq` shows it already has them; they are
final once that block is `chain.confirmations` deep. A chain rollback puts the rows the chain no
longer has back in the queue (their tx hashes kept in `history`). A reading the contract refuses
for its own values moves to `quarantine` with the reason and the raw revert data.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from oracle.drivers import Sample
from oracle.readings import MeterState, Reading

SCHEMA = """
CREATE TABLE IF NOT EXISTS meters (
    meter_id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL, timestamp REAL NOT NULL,
    produced_w REAL, consumed_w REAL,
    produced_wh REAL NOT NULL, consumed_wh REAL NOT NULL,
    soc_permille INTEGER,
    chain_seq INTEGER,
    stopped TEXT,        -- permanent error: the meter is not submitted until the service restarts
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS readings (
    meter_id INTEGER NOT NULL, seq INTEGER NOT NULL, timestamp INTEGER NOT NULL,
    produced_wh INTEGER NOT NULL, consumed_wh INTEGER NOT NULL, soc_permille INTEGER NOT NULL,
    queued_at REAL NOT NULL, sent INTEGER NOT NULL DEFAULT 0, tx TEXT,  -- sent: 0 queued, 1 unconfirmed, 2 final
    PRIMARY KEY (meter_id, seq)
);
CREATE INDEX IF NOT EXISTS readings_pending ON readings (sent, meter_id, seq);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT, meter_id INTEGER NOT NULL, at REAL NOT NULL,
    timestamp, produced_w, consumed_w, soc_permille, reason TEXT NOT NULL
);
-- Blocks that hold our sent readings and are not yet final, plus the newest final one: a rollback
-- shows as one of them gone or changed (see Submitter.check_chain).
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
"""
# Columns added after the first release: created here on new and on existing databases alike.
ADDED_COLUMNS = {
    "readings": {
        "block": "INTEGER",  # block of its receipt, or the head when reconciliation found it on chain
        "history": "TEXT",  # tx hashes of sends a rollback undid, oldest first
    },
    "quarantine": {  # a queued reading the contract refused (the other columns: its sample's values)
        "seq": "INTEGER", "produced_wh": "INTEGER", "consumed_wh": "INTEGER", "revert_data": "TEXT",
    },
}
STATE_FIELDS = list(MeterState.__dataclass_fields__)
READING_COLUMNS = "meter_id, seq, timestamp, produced_wh, consumed_wh, soc_permille"
# readings.sent: 0 queued, 1 on chain in a block not yet `chain.confirmations` deep, 2 final. One
# column, so the (sent, meter_id, seq) index finds the few unconfirmed rows among months of final ones.
PENDING = "sent=0 AND meter_id IN (SELECT meter_id FROM meters WHERE stopped IS NULL)"  # stopped meters wait


class Store:
    def __init__(self, path: Path | str):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # One user at a time, though not always the creating thread (the simulation submits from a pool).
        self.db = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a queued reading survives a power cut
        self.db.executescript(SCHEMA)
        for table, columns in ADDED_COLUMNS.items():
            have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            for name, decl in columns.items():
                if name not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    def close(self) -> None:
        self.db.close()

    def _tx(self):
        return _Transaction(self.db)

    # ------------------------------------------------------------------ state and queue

    def state(self, meter_id: int) -> MeterState | None:
        row = self.db.execute(f"SELECT {', '.join(STATE_FIELDS)} FROM meters WHERE meter_id=?", (meter_id,)).fetchone()
        return MeterState(*row) if row else None

    def seed(self, meter_id: int, state: MeterState) -> None:
        """First start of a meter: begin where the chain is (a replaced Pi keeps the counters)."""
        values = asdict(state)
        with self._tx():
            self.db.execute(
                f"INSERT OR IGNORE INTO meters (meter_id, {', '.join(STATE_FIELDS)}) "
                f"VALUES (?, {', '.join('?' for _ in STATE_FIELDS)})",
                (meter_id, *values.values()),
            )

    def record(self, rows: list[tuple[int, MeterState, Reading]], now: float) -> None:
        """Persist each meter's new state and queue its reading, in one transaction (one fsync
        for all the meters of a gateway)."""
        with self._tx():
            for meter_id, state, reading in rows:
                values = asdict(state)
                self.db.execute(
                    f"UPDATE meters SET {', '.join(f'{k}=?' for k in values)} WHERE meter_id=?",
                    (*values.values(), meter_id),
                )
                self.db.execute(
                    f"INSERT INTO readings ({READING_COLUMNS}, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (*reading.as_tuple(), now),
                )

    def quarantine(self, meter_id: int, sample: Sample, reason: str, now: float) -> None:
        with self._tx():
            self.db.execute(
                "INSERT INTO quarantine (meter_id, at, timestamp, produced_w, consumed_w, soc_permille, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (meter_id, now, *(_storable(v) for v in (sample.timestamp, sample.produced_w, sample.consumed_w,
                                                         sample.soc_permille)), reason),
            )

    def quarantine_reading(self, reading: Reading, reason: str, revert_data: str | None, now: float) -> None:
        """Take a queued reading out of the queue for good, keeping it with why. Its seq stays a gap:
        the contract accepts the meter's later readings (seq steps up to MAX_SEQ_STEP)."""
        with self._tx():
            self.db.execute(
                "INSERT INTO quarantine (meter_id, at, seq, timestamp, produced_wh, consumed_wh, soc_permille, "
                "reason, revert_data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (reading.meter_id, now, reading.seq, reading.timestamp, reading.produced_wh, reading.consumed_wh,
                 reading.soc_permille, reason, revert_data),
            )
            self.db.execute("DELETE FROM readings WHERE meter_id=? AND seq=?", (reading.meter_id, reading.seq))

    def quarantined(self, meter_id: int | None = None) -> list[tuple[int, str]]:
        rows = self.db.execute("SELECT meter_id, reason FROM quarantine ORDER BY id").fetchall()
        return [r for r in rows if meter_id is None or r[0] == meter_id]

    def quarantined_readings(self, meter_id: int) -> list[tuple[int, str, str | None]]:
        """(seq, reason, raw revert data) of the meter's quarantined queued readings."""
        return self.db.execute(
            "SELECT seq, reason, revert_data FROM quarantine WHERE meter_id=? AND seq IS NOT NULL ORDER BY id",
            (meter_id,),
        ).fetchall()

    def pending(self, limit: int, exclude: Iterable[int] = ()) -> list[Reading]:
        """Unsent readings of running meters but `exclude`, by meter then seq (the contract groups by meter)."""
        exclude = list(exclude)
        skip = f" AND meter_id NOT IN ({', '.join('?' for _ in exclude)})" if exclude else ""
        rows = self.db.execute(
            f"SELECT {READING_COLUMNS} FROM readings WHERE {PENDING}{skip} ORDER BY meter_id, seq LIMIT ?",
            (*exclude, limit),
        ).fetchall()
        return [Reading(*row) for row in rows]

    def meter_ids(self) -> list[int]:
        """Every meter this store has state for (what reconciliation asks the chain about)."""
        return [row[0] for row in self.db.execute("SELECT meter_id FROM meters ORDER BY meter_id")]

    def pending_summary(self) -> tuple[int, float | None]:
        """(unsent readings of running meters, when the oldest of them was queued)."""
        count, oldest = self.db.execute(
            f"SELECT count(*), min(queued_at) FROM readings WHERE {PENDING}"
        ).fetchone()
        return count, oldest

    def pending_count(self) -> int:
        return self.pending_summary()[0]

    def readings(self, meter_id: int) -> list[Reading]:
        rows = self.db.execute(
            f"SELECT {READING_COLUMNS} FROM readings WHERE meter_id=? ORDER BY seq",
            (meter_id,),
        ).fetchall()
        return [Reading(*row) for row in rows]

    def mark_sent(self, batch: list[Reading], tx: str, block: int, block_hash: str) -> None:
        """The receipt of `tx`, mined in `block`, holds `batch`."""
        with self._tx():
            self.db.executemany(
                "UPDATE readings SET sent=1, tx=?, block=? WHERE meter_id=? AND seq=?",
                [(tx, block, r.meter_id, r.seq) for r in batch],
            )
            for meter_id in {r.meter_id for r in batch}:
                top = max(r.seq for r in batch if r.meter_id == meter_id)
                self.db.execute(
                    "UPDATE meters SET chain_seq=max(coalesce(chain_seq, 0), ?), last_error=NULL WHERE meter_id=?",
                    (top, meter_id),
                )
            self.db.execute("INSERT OR REPLACE INTO blocks (number, hash) VALUES (?, ?)", (block, block_hash))

    def watched_blocks(self) -> list[tuple[int, str]]:
        """(number, hash) of the blocks to check for a rollback, newest first."""
        return self.db.execute("SELECT number, hash FROM blocks ORDER BY number DESC").fetchall()

    def finalize(self, deepest: int) -> int:
        """Rows in blocks up to `deepest` (head - confirmations) are final; their blocks are no longer
        watched, except the newest one, which stays to reveal a deeper rollback. Returns rows finalized."""
        with self._tx():
            finalized = self.db.execute(
                "UPDATE readings SET sent=2 WHERE sent=1 AND block<=?", (deepest,)
            ).rowcount
            self.db.execute("DELETE FROM blocks WHERE number<=? AND number<(SELECT max(number) FROM blocks)",
                            (deepest,))
        return finalized

    def reconcile(self, chain_seqs: dict[int, int], head: int, head_hash: str) -> dict[int, tuple[int, int]]:
        """The chain, at block `head`, has every seq <= chain_seqs[meter] and nothing above. Queued rows
        it has are marked sent; rows marked sent that it lost (a rollback) go back to the queue, their tx
        hash kept in `history`. Rows not yet final are anchored at `head`: they are somewhere at or below
        it, so they are final once it is confirmed, and a rollback below it changes its hash.
        Returns {meter: (rows marked sent, rows back in the queue)} for the meters with either."""
        changed = {}
        with self._tx():
            for meter_id, chain_seq in chain_seqs.items():
                marked = self.db.execute(
                    "UPDATE readings SET sent=1, block=? WHERE meter_id=? AND seq<=? AND sent=0",
                    (head, meter_id, chain_seq),
                ).rowcount
                lost = self.db.execute(
                    "UPDATE readings SET sent=0, block=NULL, tx=NULL, "
                    "history=trim(coalesce(history, '') || ' ' || coalesce(tx, 'unknown-tx')) "
                    "WHERE meter_id=? AND seq>? AND sent>0",
                    (meter_id, chain_seq),
                ).rowcount
                self.db.execute("UPDATE meters SET chain_seq=? WHERE meter_id=?", (chain_seq, meter_id))
                if marked or lost:
                    changed[meter_id] = (marked, lost)
            self.db.execute("UPDATE readings SET block=? WHERE sent=1", (head,))
            self.db.execute("DELETE FROM blocks")
            self.db.execute("INSERT INTO blocks (number, hash) VALUES (?, ?)", (head, head_hash))
        return changed

    # ------------------------------------------------------------------ errors

    def stop(self, meter_id: int, reason: str) -> None:
        with self._tx():
            self.db.execute("UPDATE meters SET stopped=?, last_error=? WHERE meter_id=?", (reason, reason, meter_id))

    def stop_all(self, reason: str) -> None:
        with self._tx():
            self.db.execute("UPDATE meters SET stopped=?, last_error=?", (reason, reason))

    def resume_all(self) -> list[int]:
        """Clear permanent stops (a service restart is the operator's retry); returns those meters."""
        stopped = [r[0] for r in self.db.execute("SELECT meter_id FROM meters WHERE stopped IS NOT NULL")]
        with self._tx():
            self.db.execute("UPDATE meters SET stopped=NULL")
        return stopped

    def meter_status(self) -> list[dict]:
        rows = self.db.execute(
            "SELECT m.meter_id, m.seq, m.chain_seq, m.stopped, m.last_error, m.produced_wh, m.consumed_wh, "
            "m.soc_permille, m.timestamp, "
            "(SELECT count(*) FROM readings r WHERE r.meter_id=m.meter_id AND r.sent=0), "
            "(SELECT count(*) FROM readings r WHERE r.meter_id=m.meter_id AND r.sent=1), "
            "(SELECT count(*) FROM quarantine q WHERE q.meter_id=m.meter_id) FROM meters m ORDER BY m.meter_id"
        ).fetchall()
        keys = ["meter_id", "last_seq", "chain_seq", "stopped", "last_error", "produced_wh", "consumed_wh",
                "soc_permille", "last_sample", "queue_depth", "unconfirmed", "quarantined"]
        return [dict(zip(keys, row)) for row in rows]


def _storable(value):
    return value if isinstance(value, (int, float, str)) or value is None else repr(value)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT/ROLLBACK (the connection runs in autocommit mode otherwise)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
