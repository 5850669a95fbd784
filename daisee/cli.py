"""Pieces every service CLI shares: one logging format, one --config option, one group shape."""
from __future__ import annotations

import logging
from pathlib import Path

import click

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def config_option(service: str, **kwargs):
    """--config/-c: the service's YAML file (also $DAISEE_<SERVICE>_CONFIG); env overrides its values."""
    return click.option(
        "--config", "-c", "config", type=click.Path(path_type=Path, dir_okay=False, exists=True),
        envvar=f"DAISEE_{service.upper()}_CONFIG", default=None,
        help=f"YAML settings (see {service}/example.yaml); env DAISEE_{service.upper()}_* overrides them.", **kwargs,
    )


def log_level_option(fn):
    return click.option("--log-level", default="INFO", show_default=True,
                        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))(fn)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)


def service_group(help_text: str) -> click.Group:
    """A click group whose --log-level configures logging the same way in every service."""

    @click.group(help=help_text)
    @log_level_option
    def main(log_level: str) -> None:
        setup_logging(log_level)

    return main
