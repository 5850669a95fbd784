"""Relay settings: which members are wired to this board, on which channels, and how to follow the chain."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from web3 import Web3

from daisee.config import ServiceSettings

# The old DAISEE board: channel 0..3 on BCM pins 17, 18, 27, 22.
DEFAULT_PINS = {0: 17, 1: 18, 2: 27, 3: 22}


class MemberWiring(BaseModel):
    """One member's supply lines: its own source and the channel of each seller it may buy from."""

    own_channel: int = Field(ge=0)
    sellers: dict[str, int] = {}

    model_config = {"extra": "forbid"}

    @field_validator("sellers")
    @classmethod
    def _checksum_sellers(cls, sellers: dict[str, int]) -> dict[str, int]:
        return {Web3.to_checksum_address(a): channel for a, channel in sellers.items()}


class RelaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DAISEE_RELAY_")

    members: dict[str, MemberWiring] = {}
    pins: dict[int, int] = DEFAULT_PINS
    # Many relay boards energise a relay when the pin is LOW.
    active_low: bool = False
    backend: Literal["simulated", "rpi"] = "simulated"
    state_file: Path = Path(".daisee/relay/state.json")
    # Simulated backend only: the board file the oracle's simulated driver reads, and a JSON-lines
    # history of every supply transition (what tests and the demo count).
    board_file: Path = Path(".daisee/relay/board.json")
    transitions_file: Path | None = Path(".daisee/relay/transitions.jsonl")
    failsafe_after: float = Field(30.0, gt=0)
    # Upper bound of one eth_getLogs range, so catching up after a long outage stays within node limits.
    max_span: int = Field(1000, ge=1)

    @field_validator("members")
    @classmethod
    def _checksum_members(cls, members: dict[str, MemberWiring]) -> dict[str, MemberWiring]:
        return {Web3.to_checksum_address(a): wiring for a, wiring in members.items()}

    @model_validator(mode="after")
    def _channels_have_pins(self) -> "RelaySettings":
        for member, wiring in self.members.items():
            for channel in [wiring.own_channel, *wiring.sellers.values()]:
                if channel not in self.pins:
                    raise ValueError(f"member {member}: channel {channel} has no pin in `pins`")
            if wiring.own_channel in wiring.sellers.values():
                raise ValueError(f"member {member}: a seller shares the own channel {wiring.own_channel}")
        if self.chain.request_timeout >= self.failsafe_after:
            # Answers that slow could never count as a good read (Relay._advance): a configuration mistake.
            raise ValueError("chain.request_timeout must be shorter than failsafe_after")
        return self
