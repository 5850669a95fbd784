"""The oracle's core loop, callable step by step: `sample_once()` reads every meter and queues its
reading, `flush()` submits what is due, `run()` is a thin loop around both (so the community demo
can drive many oracles, on simulated time, in one process)."""
from __future__ import annotations

import logging
import threading
from collections import deque

from daisee.chain import Community, Transactor
from daisee.keys import load_signer
from oracle.clock import Clock, SystemClock
from oracle.drivers import Driver, DriverUnavailable, make_driver
from oracle.health import MetricsServer, write_health
from oracle.readings import MeterState, next_state, reading_of
from oracle.settings import OracleSettings
from oracle.store import Store
from oracle.submitter import Submitter

log = logging.getLogger(__name__)


class Oracle:
    def __init__(
        self,
        settings: OracleSettings,
        clock: Clock | None = None,
        community: Community | None = None,
        account=None,
        drivers: dict[int, Driver] | None = None,
    ):
        self.settings = settings
        self.clock = clock or SystemClock()
        self.community = community or Community.open(settings.chain)
        account = account or load_signer(settings.account, settings.passphrase_file)
        self.store = Store(settings.database)
        self.meters = {m.meter_id: m for m in settings.meters}
        self.drivers = drivers or {m.meter_id: make_driver(m.driver, self.clock) for m in settings.meters}
        # Samples read last, accepted or not, per meter: they confirm a lasting power step (in memory:
        # after a restart a step is confirmed again by the next samples).
        self.recent = {m.meter_id: deque(maxlen=m.limits.step_confirm_samples) for m in settings.meters}
        self.transactor = Transactor(self.community, account, receipt_timeout=settings.chain.request_timeout)
        self.submitter = Submitter(self.store, self.community, self.transactor, settings.batch, settings.retry,
                                   self.clock, confirmations=settings.chain.confirmations)
        self.stopping = threading.Event()
        self.metrics: MetricsServer | None = None
        self._snapshot: dict = {}
        for meter_id in self.store.resume_all():
            log.warning("meter %d was stopped by a permanent error: retrying after restart", meter_id)

    # ------------------------------------------------------------------ sampling

    def _state(self, meter_id: int) -> MeterState:
        """Local state, or on first start the chain's: counters continue where the meter left them."""
        state = self.store.state(meter_id)
        if state is None:
            info = self.community.meter(meter_id)
            seq, timestamp, soc, produced, consumed = (info.seq, info.timestamp, info.socPermille, info.producedWh,
                                                       info.consumedWh)
            self.store.seed(meter_id, MeterState(seq=seq, timestamp=float(timestamp), produced_wh=float(produced),
                                                 consumed_wh=float(consumed), soc_permille=soc if seq else None))
            log.info("meter %d: starting at seq %d, %d Wh produced, %d Wh consumed", meter_id, seq, produced, consumed)
            state = self.store.state(meter_id)
        return state

    def sample_meter(self, meter_id: int) -> MeterState | str:
        """Read and validate one meter: its next state, or the reason there is none this time."""
        meter = self.meters[meter_id]
        try:
            state = self._state(meter_id)
        except Exception as exc:  # chain unreachable on first start: try again next tick
            log.warning("meter %d: cannot load its state: %s", meter_id, exc)
            return str(exc)
        try:
            sample = self.drivers[meter_id].read()
        except DriverUnavailable as exc:
            log.warning("meter %d: no sample: %s", meter_id, exc)
            return str(exc)
        except Exception as exc:  # a driver bug: the other meters of a gateway keep being read
            log.exception("meter %d: driver failed", meter_id)
            return f"driver failed: {type(exc).__name__}: {exc}"
        now = self.clock.now()
        outcome = next_state(state, sample, meter.limits, now, self.recent[meter_id], meter.unknown_soc_permille)
        if isinstance(outcome, str):
            log.warning("meter %d: sample rejected, quarantined: %s", meter_id, outcome)
            self.store.quarantine(meter_id, sample, outcome, now)
        elif state.produced_w is not None and sample.timestamp - state.timestamp > meter.limits.max_gap_s:
            log.warning("meter %d: %.0f s without samples, energy of the gap not counted", meter_id,
                        sample.timestamp - state.timestamp)
        return outcome

    def sample_once(self) -> dict[int, str | None]:
        """Sample every meter and queue the readings (one commit); returns each meter's rejection
        reason, None when its reading was queued."""
        outcomes = {meter_id: self.sample_meter(meter_id) for meter_id in self.meters}
        rows = [(m, s, reading_of(m, s)) for m, s in outcomes.items() if isinstance(s, MeterState)]
        if rows:
            self.store.record(rows, self.clock.now())
        return {m: None if isinstance(s, MeterState) else s for m, s in outcomes.items()}

    # ------------------------------------------------------------------ submission

    def flush(self, force: bool = False) -> int:
        return self.submitter.flush(force)

    def retry_now(self) -> None:
        """Drop the backoff after a failure: the cause is known to be repaired (a node back up)."""
        self.submitter.retry_now()

    def drain(self, timeout: float = 30.0) -> bool:
        """Flush until the queue is empty (or `timeout` of the oracle clock passes)."""
        deadline = self.clock.now() + timeout
        while self.store.pending_count() and self.clock.now() < deadline:
            if not self.flush(force=True):
                self.clock.sleep(min(0.05, max(0.0, self.submitter.backoff.not_before - self.clock.now())))
        return self.store.pending_count() == 0

    # ------------------------------------------------------------------ operations

    def snapshot(self) -> dict:
        meters = self.store.meter_status()
        return {
            "time": self.clock.now(),
            "account": self.transactor.address,
            "queue_depth": sum(m["queue_depth"] for m in meters),
            "sent_total": self.submitter.sent_total,
            "last_error": self.submitter.last_error,
            "paused": self.submitter.paused,
            "last_gas": self.submitter.last_gas,  # (estimate, limit) of the last batch sent
            "meters": meters,
        }

    def publish_health(self) -> None:
        self._snapshot = self.snapshot()
        if self.settings.health.file is not None:
            write_health(self.settings.health.file, self._snapshot)

    def start_metrics(self) -> None:
        health = self.settings.health
        if health.metrics_port is not None and self.metrics is None:
            self.metrics = MetricsServer(health.metrics_host, health.metrics_port, lambda: self._snapshot).start()
            log.info("metrics on http://%s:%d/metrics", health.metrics_host, self.metrics.port)

    def run(self, max_loops: int | None = None) -> None:
        """Sample every `sample_interval`, flush when a batch is due, publish health; until stop()."""
        self.start_metrics()
        loops = 0
        next_tick = self.clock.now()
        while not self.stopping.is_set() and (max_loops is None or loops < max_loops):
            self.sample_once()
            self.flush()
            self.publish_health()
            loops += 1
            next_tick += self.settings.sample_interval
            self.clock.sleep(max(0.0, next_tick - self.clock.now()))
            if next_tick < self.clock.now() - self.settings.sample_interval:
                next_tick = self.clock.now()  # fell behind (slow RPC): do not burst to catch up

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.stop()
        for driver in self.drivers.values():
            driver.close()
        self.store.close()
