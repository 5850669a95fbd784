"""Deploy the community contracts: `ape run deploy --network <choice> [--account ALIAS] [--redeploy]
[--governance | --single-admin]`.

Writes deployments/<network>.json (addresses, deployment block, chain id, ABIs) for the services.
Re-running on the same network reuses a deployment whose contracts are still on chain.
Governance (membership, governor, timelock, rules) is always deployed and wired; `--governance` (the
default) also begins handing the admin role to the timelock, `--single-admin` keeps the deployer as
admin for a pilot. `daisee-governance handover` completes (or later begins) the hand-over
(governance/handover.py).
"""
from pathlib import Path

import click
from ape import accounts, chain, project
from ape.utils import ZERO_ADDRESS
from ape.cli import ConnectedProviderCommand

from daisee.chain import Deployment
from governance.contracts import GOVERNOR, MEMBERSHIP, RULES, TIMELOCK
from governance.handover import PROPOSER_ROLE, batch_for

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


DEFAULT_RULES = (0, 0, 0, 0, 0, b"\x00" * 32, b"\x00" * 32)  # default dynamic key, no fee, no bounds


def deploy_governance(deployer, deployment: Deployment, guardian: str, admin_delay: int, timelock_delay: int,
                      voting_delay: int, voting_period: int, quorum_percent: int, utc_offset: int,
                      hand_over: bool) -> int | None:
    """Deploy and wire the membership, timelock, governor and rules into `deployment` (its `contracts`
    and `abi`); with `hand_over`, begin handing the three admin roles to the timelock (step 1 of
    governance/handover.py: the deployer stays admin until `daisee-governance handover` completes it).
    Returns the seconds after which the hand-over can complete, None with `hand_over` off."""
    exchange = project.EnergyExchange.at(deployment.exchange)
    membership = deployer.deploy(project.CommunityMembership, deployer.address, admin_delay)
    timelock = deployer.deploy(project.CommunityTimelock, timelock_delay, [], [ZERO_ADDRESS], deployer.address)
    governor = deployer.deploy(project.CommunityGovernor, membership.address, timelock.address, voting_delay,
                               voting_period, quorum_percent)
    rules = deployer.deploy(project.CommunityRules, deployer.address, admin_delay, utc_offset, DEFAULT_RULES)
    timelock.grantRole(timelock.PROPOSER_ROLE(), governor.address, sender=deployer)
    timelock.grantRole(timelock.CANCELLER_ROLE(), governor.address, sender=deployer)
    membership.grantRole(membership.REGISTRAR_ROLE(), exchange.address, sender=deployer)
    exchange.setMembership(membership.address, sender=deployer)
    exchange.grantRole(exchange.GUARDIAN_ROLE(), guardian, sender=deployer)
    for name, contract in ((MEMBERSHIP, membership), (TIMELOCK, timelock), (GOVERNOR, governor), (RULES, rules)):
        deployment.contracts[name] = contract.address
        deployment.abi[name] = abi_of(getattr(project, name))
    if hand_over:
        administered = [exchange, membership, rules]
        if "PeriodLedger" in deployment.contracts:  # who may commit periods: also the members' decision
            administered.append(project.PeriodLedger.at(deployment.contracts["PeriodLedger"]))
        for contract in administered:
            contract.beginDefaultAdminTransfer(timelock.address, sender=deployer)
        timelock.grantRole(PROPOSER_ROLE, deployer.address, sender=deployer)
        batch = batch_for([c.address for c in administered], timelock_delay,
                          [c.defaultAdminDelay() for c in administered])
        timelock.scheduleBatch(*batch.args(), batch.delay, sender=deployer)
        return batch.delay
    return None


@click.command(cls=ConnectedProviderCommand)
@click.option("--account", "alias", help="ape account alias of the deployer (default on local networks: test account 0)")
@click.option("--operator", help="address granted OPERATOR_ROLE (default: the deployer)")
@click.option("--fee-recipient", help="address receiving the operator fee (default: the operator)")
@click.option("--fee-bps", default=100, show_default=True, type=click.IntRange(0, 1000))
@click.option("--admin-delay", default=86_400, show_default=True, type=click.IntRange(0, 2**48 - 1),
              help="seconds a new admin waits before accepting the role (two-step hand-over)")
@click.option("--governance/--single-admin", default=True, show_default=True,
              help="begin handing the admin role to the members' vote (timelock), or keep the deployer as admin "
                   "for a pilot; `daisee-governance handover` completes or begins it later")
@click.option("--guardian", help="address that may pause the exchange, and only that (default: the operator)")
@click.option("--timelock-delay", default=2 * 86_400, show_default=True, type=click.IntRange(0),
              help="seconds between a passed proposal and its execution")
@click.option("--voting-delay", default=86_400, show_default=True, type=click.IntRange(0, 2**48 - 1),
              help="seconds from a proposal to the opening of its vote (the members' snapshot)")
@click.option("--voting-period", default=7 * 86_400, show_default=True, type=click.IntRange(1, 2**32 - 1),
              help="seconds a vote stays open")
@click.option("--quorum-percent", default=20, show_default=True, type=click.IntRange(0, 100),
              help="share of the members whose for + abstain votes make a quorum")
@click.option("--utc-offset", default=7_200, show_default=True, type=click.IntRange(-14 * 3600, 14 * 3600),
              help="seconds east of UTC that cut the rules' monthly periods (the zone's largest offset)")
@click.option("--redeploy", is_flag=True, help="deploy anew even if a deployment exists on this chain")
@click.option("--out", type=click.Path(dir_okay=False), help="deployment file (default: deployments/<network>.json)")
def cli(network, alias, operator, fee_recipient, fee_bps, admin_delay, governance, guardian, timelock_delay,
        voting_delay, voting_period, quorum_percent, utc_offset, redeploy, out):
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
        ready_in = deploy_governance(deployer, deployment, guardian or operator, admin_delay, timelock_delay, voting_delay,
                          voting_period, quorum_percent, utc_offset, governance)
        deployment.save(path)
        if ready_in is None:
            click.echo("single admin: the deployer; `daisee-governance handover` hands it to the members' vote")
        else:
            click.echo(f"hand-over to the timelock begun: `daisee-governance handover` completes it in {ready_in} s")
        click.echo(f"deployed on {network.choice} (chain {deployment.chain_id}) at block {deployment.deployed_block}")
    else:
        click.echo(f"reusing the deployment on {network.choice} (chain {deployment.chain_id}); --redeploy to replace it")
    click.echo(f"EnergyToken    {deployment.token}")
    click.echo(f"EnergyExchange {deployment.exchange}")
    for name, address in deployment.contracts.items():
        click.echo(f"{name:<14} {address}")
    click.echo(f"written to     {path}")
