"""The community simulation behind `ape run demo`: a planned community of simulated households
(community.py), set up on chain by the operator, then run step by step with the real oracle, relay
and viewer services on simulated time (world.py), and its outcome read back from the chain
(outcome.py). No exchange rule is computed here: the contracts decide, the services act."""
