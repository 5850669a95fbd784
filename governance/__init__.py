"""Community governance from the command line: the members' proposals, votes, queue and execution
on the CommunityGovernor, the rules in force per period (CommunityRules), and the hand-over of the
exchange, the membership and the rules from a single admin to the governance timelock.
`daisee-governance --help`; the contracts are in contracts/governance/."""
