"""Gas of the governance life cycle on a real anvil (contracts deployed by `ape run deploy`, hand-over
completed), and what a vote of 1 000 members costs the seed's PoA chain (6 M gas / 5 s blocks) over
one voting period of the deploy's default (7 days). Whole-transaction gasUsed (21 000 base included).

    python -m bench governance
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from bench import Figure
from bench.gas import SEED_CHAIN_BLOCK_S, SEED_CHAIN_GAS

VOTERS = 1_000
DEFAULT_VOTING_PERIOD_S = 7 * 86_400  # scripts/deploy.py --voting-period default
MEMBERS = 10  # measured community; castVote's gas does not grow with the number of members
TIMELOCK_DELAY, VOTING_DELAY, VOTING_PERIOD = 30, 1, 60
EIP170_LIMIT = 24_576


def run() -> list[Figure]:
    from web3 import Web3

    from daisee.chain import CONSUMER, Community
    from governance.contracts import Governance
    from governance.handover import Handover
    from governance.proposals import Action
    from tests.support.anvil import AnvilNode, CommunityAdmin, dev_account
    from tests.support.scenario import funded_account

    with tempfile.TemporaryDirectory() as tmp:
        node = AnvilNode(Path(tmp) / "anvil").start()
        try:
            options = ("--admin-delay", "0", "--timelock-delay", str(TIMELOCK_DELAY), "--voting-delay",
                       str(VOTING_DELAY), "--voting-period", str(VOTING_PERIOD), "--quorum-percent", "20")
            community = Community.open(node.settings(node.deploy(Path(tmp) / "local.json", options=options)))
            gov = Governance.open(community)
            w3 = community.w3

            def travel(seconds: int) -> None:
                w3.provider.make_request("evm_increaseTime", [seconds])
                w3.provider.make_request("evm_mine", [])

            travel(TIMELOCK_DELAY + 1)
            Handover(gov).complete(gov.transactor(dev_account(0)))
            admin = CommunityAdmin(community)
            members = []
            for _ in range(MEMBERS):
                account = funded_account(admin, tokens=0)
                register_gas = admin.operator.transact(
                    community.exchange.functions.registerMeter(account.address, CONSUMER, dev_account(1).address)
                )["gasUsed"]
                members.append(gov.transactor(account))
            travel(1)

            action = Action(gov.exchange, "setFee", (42, community.exchange.functions.feeRecipient().call()))
            args = ([gov.exchange.address], [0], [action.calldata], "bench: fee to 0.42 %")
            g = gov.governor.functions
            propose_gas = members[0].transact(g.propose(*args))["gasUsed"]
            proposal_id = g.hashProposal(*args[:3], Web3.keccak(text=args[3])).call()
            travel(VOTING_DELAY + 1)
            vote_gas = [m.transact(g.castVote(proposal_id, 1))["gasUsed"] for m in members]
            travel(VOTING_PERIOD + 1)
            queued_args = (*args[:3], Web3.keccak(text=args[3]))
            queue_gas = members[0].transact(g.queue(*queued_args))["gasUsed"]
            travel(TIMELOCK_DELAY + 1)
            execute_gas = members[0].transact(g.execute(*queued_args))["gasUsed"]
            assert community.exchange.functions.feeBps().call() == 42
            governor_size = len(w3.eth.get_code(gov.governor.address))
        finally:
            node.stop(hard=True)

    cast_vote = max(vote_gas[1:])  # the first vote also creates the proposal's tally slots
    blocks = DEFAULT_VOTING_PERIOD_S / SEED_CHAIN_BLOCK_S
    share = VOTERS * cast_vote / (blocks * SEED_CHAIN_GAS)
    seed = f"{SEED_CHAIN_GAS // 10**6} M gas / {SEED_CHAIN_BLOCK_S} s blocks"
    return [
        Figure("propose (one call: setFee)", propose_gas, "gas", "<= 150000"),
        Figure("castVote, first of a proposal", vote_gas[0], "gas"),
        Figure("castVote", cast_vote, "gas", "<= 90000", note="later votes, the largest"),
        Figure("queue (into the timelock)", queue_gas, "gas", "<= 150000"),
        Figure("execute (timelock runs setFee)", execute_gas, "gas", "<= 150000"),
        Figure(f"{VOTERS} votes in a 7-day voting period, block share", 10**6 * share, "ppm", "<= 10000",
               note=f"{VOTERS} x castVote / ({blocks:,.0f} blocks x {seed})"),
        Figure(f"{VOTERS} votes, in blocks if all at once", VOTERS * cast_vote / SEED_CHAIN_GAS, "blocks",
               note=f"{seed}: the busiest case, a whole vote in one burst"),
        Figure("registerMeter with membership mint", register_gas, "gas", note="once per member"),
        Figure("CommunityGovernor runtime size", governor_size, "bytes", f"<= {EIP170_LIMIT}",
               note="EIP-170 limit"),
    ]
