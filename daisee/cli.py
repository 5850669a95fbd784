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


@click.group()
def key() -> None:
    """The services' keys as ape keyfiles, $APE_DATA_FOLDER (default ~/.ape)/accounts/<alias>.json,
    the files `ape accounts` reads and writes too."""


@key.command("import")
@click.argument("alias")
@click.option("--key-file", type=click.Path(path_type=Path, dir_okay=False, exists=True, allow_dash=True),
              help="Read the private key (hex) from this chmod-600 file, or '-' for stdin, instead of a hidden prompt.")
@click.option("--passphrase-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Read the passphrase from this chmod-600 file when APE_ACCOUNTS_<alias>_PASSPHRASE is not set "
                   "(the oracle's order); neither: a hidden prompt, asked twice.")
@click.option("--force", is_flag=True, help="Replace an existing account of that alias.")
def import_key(alias: str, key_file: Path | None, passphrase_file: Path | None, force: bool) -> None:
    """Encrypt a private key as the account ALIAS (never pass the key as an argument: it would show in ps)."""
    from eth_account import Account

    from daisee import keys
    from daisee.files import read_private

    try:
        path = keys.keyfile_path(alias)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="ALIAS") from None
    if path.exists() and not force:
        raise click.ClickException(f"account '{alias}' exists ({path}): --force replaces it")
    try:
        if key_file is None:
            raw = click.prompt("Private key", hide_input=True)
        elif str(key_file) == "-":
            raw = click.get_text_stream("stdin").readline()
        else:
            raw = read_private(key_file)
        passphrase = keys.stored_passphrase(alias, passphrase_file)
    except PermissionError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        account = Account.from_key(raw.strip())
    except ValueError:  # its message must not echo the input
        raise click.ClickException("not a private key: 64 hex digits, with or without 0x") from None
    if passphrase is None:
        passphrase = click.prompt("Passphrase", hide_input=True, confirmation_prompt=True)
    if not passphrase:
        raise click.ClickException("the passphrase is empty")
    keys.write_keyfile(alias, account, passphrase)
    click.echo(f"{alias}: {account.address} -> {path}")


@key.command("list")
def list_keys() -> None:
    """The accounts in the data folder, with their addresses (nothing is decrypted)."""
    from daisee import keys

    stored = keys.stored_accounts()
    if not stored:
        click.echo(f"no account in {keys.ape_data_folder() / 'accounts'}")
    for alias, path in stored.items():
        try:
            address = keys.keyfile_address(path)
        except (ValueError, KeyError) as exc:
            address = f"unreadable ({type(exc).__name__})"
        click.echo(f"{alias}  {address}  {path}")


def chain_options(fn):
    """--rpc-url and --deployment, defaulting as the services' ChainSettings (env DAISEE_CHAIN_*)."""
    from daisee.config import ChainSettings

    fn = click.option("--rpc-url", envvar="DAISEE_CHAIN_RPC_URL", default=ChainSettings().rpc_url,
                      show_default=True, help="the chain's JSON-RPC endpoint")(fn)
    fn = click.option("--deployment", envvar="DAISEE_CHAIN_DEPLOYMENT", type=click.Path(path_type=Path, dir_okay=False),
                      default=ChainSettings().deployment, show_default=True,
                      help="deployment file written by `ape run deploy`")(fn)
    return fn


def signer_options(fn):
    """--account (a keyfile alias) and --passphrase-file: what `daisee.keys.load_signer` takes."""
    fn = click.option("--passphrase-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
                      help="chmod-600 file with the keyfile's passphrase (else APE_ACCOUNTS_<alias>_PASSPHRASE)")(fn)
    fn = click.option("--account", "alias", required=True, help="ape account alias of the signer (daisee-key list)")(fn)
    return fn

