"""Deploy the community contracts: `ape run deploy --network <choice> [--account ALIAS] [--redeploy]`.

Writes deployments/<network>.json (addresses, deployment block, chain id, ABIs) for the services.
Re-running on the same network reuses a deployment whose contracts are still on chain.
"""
from pathlib import Path

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand

from daisee.chain import Deployment

DEPLOYMENTS = Path(__file__).resolve().parent.parent / "deployments"


def deployment_file(network) -> Path:
    return DEPLOYMENTS / f"{network.name}.json"


def abi_of(container) -> list[dict]:
    return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in container.contract_type.abi]


def existing(path: Path) -> Deployment | None:
    """The deployment at `path` if it belongs to this chain and its contracts still exist."""
    if not path.is_file():
        return None
    deployment = Deployment.load(path)
    if deployment.chain_id != chain.chain_id:
        return None
    if not chain.provider.get_code(deployment.exchange) or not chain.provider.get_code(deployment.token):
        return None
    return deployment


def deploy(deployer, operator: str, fee_recipient: str, fee_bps: int, admin_delay: int, network_name: str) -> Deployment:
    start_block = chain.blocks.head.number + 1
    token = deployer.deploy(project.EnergyToken, deployer.address)
    exchange = deployer.deploy(project.EnergyExchange, token.address, deployer.address, admin_delay, fee_recipient,
                               fee_bps)
    exchange.grantRole(exchange.OPERATOR_ROLE(), operator, sender=deployer)
    contracts = deploy_collective(deployer, token, operator, admin_delay)
    return Deployment(
        network=network_name,
        chain_id=chain.chain_id,
        deployed_block=start_block,
        token=token.address,
        exchange=exchange.address,
        contracts={name: c.address for name, c in contracts.items()},
        abi={"EnergyToken": abi_of(project.EnergyToken), "EnergyExchange": abi_of(project.EnergyExchange),
             **{name: abi_of(getattr(project, name)) for name in contracts}},
    )


def deploy_collective(deployer, token, operator: str, admin_delay: int) -> dict:
    """The collective self-consumption side: the period ledger (the operator, as PMO, commits) and
    the settlement of local energy against it."""
    ledger = deployer.deploy(project.PeriodLedger, deployer.address, admin_delay)
    ledger.grantRole(ledger.COMMITTER_ROLE(), operator, sender=deployer)
    settlement = deployer.deploy(project.CollectiveSettlement, ledger.address, token.address)
    return {"PeriodLedger": ledger, "CollectiveSettlement": settlement}


@click.command(cls=ConnectedProviderCommand)
@click.option("--account", "alias", help="ape account alias of the deployer (default on local networks: test account 0)")
@click.option("--operator", help="address granted OPERATOR_ROLE (default: the deployer)")
@click.option("--fee-recipient", help="address receiving the operator fee (default: the operator)")
@click.option("--fee-bps", default=100, show_default=True, type=click.IntRange(0, 1000))
@click.option("--admin-delay", default=86_400, show_default=True, type=click.IntRange(0, 2**48 - 1),
              help="seconds a new admin waits before accepting the role (two-step hand-over)")
@click.option("--redeploy", is_flag=True, help="deploy anew even if a deployment exists on this chain")
@click.option("--out", type=click.Path(dir_okay=False), help="deployment file (default: deployments/<network>.json)")
def cli(network, alias, operator, fee_recipient, fee_bps, admin_delay, redeploy, out):
    if alias:
        deployer = accounts.load(alias)
    elif network.is_local:
        deployer = accounts.test_accounts[0]
    else:
        raise click.UsageError("--account ALIAS is required on a non-local network")
    path = Path(out) if out else deployment_file(network)
    deployment = None if redeploy else existing(path)
    if deployment is None:
        operator = operator or deployer.address
        deployment = deploy(deployer, operator, fee_recipient or operator, fee_bps, admin_delay, network.choice)
        deployment.save(path)
        click.echo(f"deployed on {network.choice} (chain {deployment.chain_id}) at block {deployment.deployed_block}")
    else:
        click.echo(f"reusing the deployment on {network.choice} (chain {deployment.chain_id}); --redeploy to replace it")
    click.echo(f"EnergyToken    {deployment.token}")
    click.echo(f"EnergyExchange {deployment.exchange}")
    click.echo(f"written to     {path}")
