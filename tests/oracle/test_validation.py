"""Every implausible sample is rejected with its reason before anything is queued."""
from __future__ import annotations

import pytest

from oracle.drivers import Sample
from oracle.readings import MeterState, rejection
from oracle.settings import Limits

NOW = 1_700_000_000.0
PREVIOUS = MeterState(seq=3, timestamp=NOW - 10, produced_w=100.0, consumed_w=200.0)
LIMITS = Limits(max_power_w=10_000, max_step_w=5_000, max_future_s=5)

CORPUS = [
    (Sample(NOW, float("nan"), 10.0, 500), "produced_w is not a finite number"),
    (Sample(NOW, 10.0, float("inf"), 500), "consumed_w is not a finite number"),
    (Sample(float("nan"), 10.0, 10.0, 500), "timestamp is not a finite number"),
    (Sample(NOW, -5.0, 10.0, 500), "produced_w is negative"),
    (Sample(NOW, 10.0, 10_001.0, 500), "above max_power_w"),
    (Sample(NOW, 5_200.0, 200.0, 500), "produced_w jumped"),
    (Sample(NOW - 11, 100.0, 200.0, 500), "clock went backwards"),
    (Sample(NOW + 6, 100.0, 200.0, 500), "in the future"),
    (Sample(NOW, 100.0, 200.0, 1001), "soc_permille 1001 outside"),
    (Sample(NOW, 100.0, 200.0, -1), "soc_permille -1 outside"),
]


@pytest.mark.parametrize("sample, reason", CORPUS, ids=[r for _, r in CORPUS])
def test_bad_sample_is_rejected_with_its_reason(sample, reason):
    assert reason in rejection(sample, PREVIOUS, LIMITS, NOW)


def test_plausible_sample_is_accepted():
    assert rejection(Sample(NOW, 4_000.0, 300.0, None), PREVIOUS, LIMITS, NOW) is None


def test_first_sample_has_no_jump_to_check():
    assert rejection(Sample(NOW, 9_000.0, 0.0, 10), MeterState(), LIMITS, NOW) is None
