"""Benchmarks: each bench/<name>.py exposes `run() -> list[Figure]`; `python -m bench` runs them all
(or those named: `python -m bench gas oracle`) and prints one table against the targets."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: str = ""  # e.g. "<= 6000", ">= 1000", "" when informative only
    note: str = ""

    @property
    def met(self) -> bool | None:
        if not self.target:
            return None
        op, bound = self.target.split()
        bound = float(bound)
        return self.value <= bound if op == "<=" else self.value >= bound
