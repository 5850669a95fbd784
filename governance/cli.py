"""`daisee-governance`: the members' proposals, votes, queue and execution, the rules in force, and
the hand-over from a single admin to the members' vote. Keys are ape keyfiles (daisee-key import)."""
from __future__ import annotations

import functools
from pathlib import Path

import click

from daisee.chain import Community, ContractRevert
from daisee.cli import chain_options, service_group, signer_options
from daisee.config import ChainSettings
from governance import proposals as p
from governance.contracts import Governance
from governance.handover import Handover, HandoverError
from governance.rules import KEY_TYPES, NO_HASH, SURPLUS_POLICIES, Rules, document_hash, in_force, token_units

main = service_group(__doc__)


def _clear_errors(fn):
    """Every expected failure as a one-line click error (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (p.GovernanceError, HandoverError, ContractRevert, ValueError, KeyError, FileNotFoundError,
                PermissionError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise click.ClickException(message) from None
        except ConnectionError as exc:
            raise click.ClickException(f"cannot reach the node: {exc}") from None

    return wrapper


def _open(rpc_url: str, deployment: Path) -> Governance:
    return Governance.open(Community.open(ChainSettings(rpc_url=rpc_url, deployment=deployment)))


def _signer(gov: Governance, alias: str, passphrase_file: Path | None):
    from daisee.keys import load_signer

    return gov.transactor(load_signer(alias, passphrase_file))


def _proposal_id(value: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a proposal id (a number, decimal or 0x-hex)") from None


# ------------------------------------------------------------------------------------ propose


@main.group()
def propose() -> None:
    """Submit a proposal (members only); prints its id."""


def _submit(rpc_url, deployment, alias, passphrase_file, description, build) -> None:
    gov = _open(rpc_url, deployment)
    actions = build(gov)
    proposal_id = p.propose(gov, _signer(gov, alias, passphrase_file), actions, description)
    click.echo(proposal_id)


def proposal_command(fn):
    """A `propose` subcommand: chain and signer options, --description, clear errors."""
    fn = click.option("--description", required=True, help="what the members vote on, in words")(fn)
    return propose.command()(chain_options(signer_options(_clear_errors(fn))))


@proposal_command
@click.option("--bps", type=click.IntRange(0, 1000), required=True, help="operator fee, basis points")
@click.option("--recipient", help="fee recipient (default: unchanged)")
def fee(rpc_url, deployment, alias, passphrase_file, description, bps, recipient):
    """Set the exchange's operator fee."""

    def build(gov):
        to = recipient or gov.exchange.functions.feeRecipient().call()
        return [p.Action(gov.exchange, "setFee", (bps, to))]

    _submit(rpc_url, deployment, alias, passphrase_file, description, build)


@proposal_command
def unpause(rpc_url, deployment, alias, passphrase_file, description):
    """Resume the exchange after the guardian paused it."""
    _submit(rpc_url, deployment, alias, passphrase_file, description,
            lambda gov: [p.Action(gov.exchange, "unpause")])


@proposal_command
@click.option("--key", "key_type", type=click.Choice(KEY_TYPES), required=True, help="allocation key")
@click.option("--shares", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="the key's shares file (as `daisee-collective allocate --shares`), hashed on chain")
@click.option("--surplus", type=click.Choice(SURPLUS_POLICIES), default="sold-to-supplier", show_default=True)
@click.option("--pmo-fee-bps", type=click.IntRange(0, 10_000), default=0, show_default=True)
@click.option("--price-floor", default="0", show_default=True, help="local price floor, tokens per kWh")
@click.option("--price-cap", default="0", show_default=True, help="local price cap, tokens per kWh")
@click.option("--conformity", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="conformity thresholds (YAML/JSON of collective.check.CheckSettings), hashed on chain")
@click.option("--from-period", type=int, default=0, show_default=True,
              help="first month in force, YYYYMM, after the current one (0: the next month)")
def rules(rpc_url, deployment, alias, passphrase_file, description, key_type, shares, surplus, pmo_fee_bps,
          price_floor, price_cap, conformity, from_period):
    """Set the collective rules, in force from a later month."""

    def build(gov):
        decimals = gov.community.token.functions.decimals().call()
        new = Rules(KEY_TYPES.index(key_type), SURPLUS_POLICIES.index(surplus), pmo_fee_bps,
                    token_units(price_floor, decimals), token_units(price_cap, decimals),
                    document_hash(shares) if shares else NO_HASH,
                    document_hash(conformity) if conformity else NO_HASH)
        if new.keyType and not shares:
            raise click.UsageError(f"--key {key_type} needs --shares")
        return [p.Action(gov.rules, "setRules", (tuple(new), from_period))]

    _submit(rpc_url, deployment, alias, passphrase_file, description, build)


# ------------------------------------------------------------------------------------ vote, queue, execute


@main.command()
@click.argument("proposal_id", callback=lambda _c, _p, v: _proposal_id(v))
@click.argument("support", type=click.Choice(list(p.SUPPORT)))
@click.option("--reason", default="", help="a reason recorded with the vote")
@chain_options
@signer_options
@_clear_errors
def vote(proposal_id, support, reason, rpc_url, deployment, alias, passphrase_file):
    """Vote for, against or abstain on PROPOSAL_ID (one member, one vote)."""
    gov = _open(rpc_url, deployment)
    p.vote(gov, _signer(gov, alias, passphrase_file), proposal_id, support, reason)
    click.echo(f"voted {support} on {proposal_id}")


@main.command()
@click.argument("proposal_id", callback=lambda _c, _p, v: _proposal_id(v))
@chain_options
@signer_options
@_clear_errors
def queue(proposal_id, rpc_url, deployment, alias, passphrase_file):
    """Queue a passed proposal in the timelock."""
    gov = _open(rpc_url, deployment)
    eta = p.queue(gov, _signer(gov, alias, passphrase_file), proposal_id)
    click.echo(f"queued {proposal_id}: executable from {p.when(eta)}")


@main.command()
@click.argument("proposal_id", callback=lambda _c, _p, v: _proposal_id(v))
@chain_options
@signer_options
@_clear_errors
def execute(proposal_id, rpc_url, deployment, alias, passphrase_file):
    """Execute a queued proposal once the timelock delay has passed."""
    gov = _open(rpc_url, deployment)
    p.execute(gov, _signer(gov, alias, passphrase_file), proposal_id)
    click.echo(f"executed {proposal_id}")


# ------------------------------------------------------------------------------------ reading


@main.command()
@click.argument("proposal_id", required=False, callback=lambda _c, _p, v: None if v is None else _proposal_id(v))
@chain_options
@_clear_errors
def status(proposal_id, rpc_url, deployment):
    """List the proposals (or one) with their state, votes, quorum and eta."""
    gov = _open(rpc_url, deployment)
    listed = [p.find(gov, proposal_id)] if proposal_id is not None else p.proposals(gov)
    if not listed:
        click.echo("no proposal yet")
    for proposal in listed:
        t = p.tally(gov, proposal)
        click.echo(f"{proposal.id}  {t.state}")
        click.echo(f"  {proposal.description}")
        for line in p.describe(gov, proposal):
            click.echo(f"  -> {line}")
        click.echo(f"  votes: {t.for_} for, {t.against} against, {t.abstain} abstain; quorum {t.quorum}")
        click.echo(f"  voting: {p.when(proposal.vote_start)} .. {p.when(proposal.vote_end)}"
                   + (f"; executable from {p.when(t.eta)}" if t.eta else ""))


@main.command("rules")
@click.option("--period", type=int, help="month YYYYMM (default: the current one)")
@chain_options
@_clear_errors
def show_rules(period, rpc_url, deployment):
    """The collective rules in force in a month, and their version (what the pipeline applies)."""
    gov = _open(rpc_url, deployment)
    period, version, rules_ = in_force(gov.rules, period)
    decimals = gov.community.token.functions.decimals().call()
    click.echo(f"period {period}: version {version} of {gov.rules.functions.latestVersion().call()}")
    for name, value in rules_.describe(decimals).items():
        click.echo(f"  {name}: {value}")


# ------------------------------------------------------------------------------------ hand-over


@main.command()
@chain_options
@signer_options
@_clear_errors
def handover(rpc_url, deployment, alias, passphrase_file):
    """Hand the exchange, membership and rules to the members' vote (the timelock): begins the
    two-step transfer, or completes it once its delay has passed. Run by the current admin."""
    gov = _open(rpc_url, deployment)
    steps = Handover(gov)
    tx = _signer(gov, alias, passphrase_file)
    state, _ = steps.state()
    if state == "single-admin":
        ready_at = steps.begin(tx)
        click.echo(f"hand-over begun: run `daisee-governance handover` again from {p.when(ready_at)}")
        return
    steps.complete(tx)
    click.echo(f"handed over: the timelock {gov.timelock.address} is the admin; only a vote changes the rules")
