"""Service configuration: a YAML file, overridden by environment variables.

Every service settings class derives from `ServiceSettings`; values come, highest first, from
init arguments, environment (`DAISEE_<SERVICE>_...`, nested with `__`), then the YAML file named
by `yaml_file` in the class config or the `--config` option of the service CLI.
Secrets never live in the YAML: keys come from ape keyfiles whose passphrase is in the
environment or in a file only the service user can read (see `daisee.keys.load_signer`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


class ChainSettings(BaseModel):
    """Where the chain is and which deployment to use."""

    rpc_url: str = "http://127.0.0.1:8545"
    # Further nodes of the same chain, tried in turn when the current one does not answer (a Pi's
    # own node first, its neighbours' after it): see daisee.chain.FailoverHTTPProvider.
    fallback_urls: list[str] = []
    deployment: Path = Path("deployments/local.json")
    request_timeout: float = Field(10.0, gt=0)
    poll_interval: float = Field(0.2, gt=0)
    confirmations: int = Field(0, ge=0)

    @property
    def rpc_urls(self) -> list[str]:
        """Every endpoint, `rpc_url` first, each once."""
        return list(dict.fromkeys([self.rpc_url, *self.fallback_urls]))

    def rotated(self, index: int) -> "ChainSettings":
        """The same endpoints starting at the `index`-th (round the list): services spread over a
        network's nodes, each with the others as its fallbacks, as the Pis of a street would be."""
        urls = self.rpc_urls
        first = index % len(urls)
        order = urls[first:] + urls[:first]
        return self.model_copy(update={"rpc_url": order[0], "fallback_urls": order[1:]})


class ServiceSettings(BaseSettings):
    """Base for the services' settings; subclasses set `env_prefix`."""

    chain: ChainSettings = ChainSettings()

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="forbid")
    _yaml_path: ClassVar[Path | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._yaml_path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=cls._yaml_path))
        return tuple(sources)

    @classmethod
    def load(cls, path: Path | str | None = None, **overrides: Any):
        """Read settings from `path` (YAML, optional) + environment + `overrides`."""
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        cls._yaml_path = Path(path) if path is not None else None
        try:
            return cls(**overrides)
        finally:
            cls._yaml_path = None
