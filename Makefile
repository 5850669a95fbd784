# DAISEE — every target bootstraps what it needs (tools/bootstrap is idempotent and quick when done).
SHELL := /bin/bash
export SOLCX_BINARY_PATH := $(CURDIR)/tools/solc
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/.venv/bin:$(PATH)
export PYTHONPATH := $(CURDIR)
NODE_URL ?= http://127.0.0.1:8545
ARGS ?=

.PHONY: bootstrap geth demo test test-poa test-foundry fuzz slither deploy node node-stop poa poa-stop bench clean

bootstrap:
	@tools/bootstrap

## The main job: a simulated community on the local anvil (`make node`), its oracles and relays,
## an accelerated day, a summary, then the viewer on http://127.0.0.1:8080 until Ctrl-C.
## e.g. make demo ARGS="--members 50 --no-viewer"; ARGS="--network ethereum:volta:node --account op".
## On the PoA network of `make poa`: see README, "A proof-of-authority network" (tools/ape-clique on
## PYTHONPATH lets ape read Clique blocks; it changes nothing on anvil). With --network, no local anvil.
demo: $(if $(findstring --network,$(ARGS)),bootstrap,node)
	APE_FOUNDRY_HOST=$(NODE_URL) PYTHONPATH=$(CURDIR)/tools/ape-clique:$(CURDIR) ape run demo $(ARGS)

## All tests: the contracts' forge invariants (bounded profile) and slither first, quick and about the
## contracts alone; then contracts on the in-process chain, services and end-to-end against real
## anvil nodes, and the proof-of-authority tests on 3-validator geth networks (tests/poa: ~3 min;
## geth is built once first). ARGS go to ape.
test: bootstrap geth
	tools/forge test
	tools/slither-check
	ape test tests $(ARGS)

## The proof-of-authority tests alone (tests/poa, also in `make test`; builds geth once).
test-poa: bootstrap geth
	ape test tests/poa $(ARGS)

## The forge invariants searched deep (foundry.toml's `deep` profile), e.g. ARGS="--mt invariant_escrow".
fuzz: bootstrap
	FOUNDRY_PROFILE=deep tools/forge test $(ARGS)

## Slither over the contracts; exits non-zero on any finding not excluded or accepted in tools/slither-check.
slither: bootstrap
	tools/slither-check

## The contract suite again on a real anvil. (Ape 0.8.51's --gas report crashes decoding views that
## return one struct, e.g. meter(): gas figures come from `make bench` / `python -m bench gas`.)
test-foundry: bootstrap
	ape test tests/contracts --network ethereum:local:foundry $(ARGS)

## Start a local anvil (the embedded default chain) in the background; state kept in .daisee/.
node: bootstrap
	@tools/node start

node-stop:
	@tools/node stop

## geth v1.13.15, the last geth that seals a Clique (proof-of-authority) chain, built once with Go
## into .daisee/bin/geth (tools/geth-build: ~3 min from a fresh clone, instant afterwards).
geth:
	@tools/geth-build

## A proof-of-authority network as the seed's Pis ran: 3 geth validators (Clique, 5 s blocks,
## 6 000 000 gas, chain 69 = ethereum:daisee-poa) on 127.0.0.1:8645-8647, kept in .daisee/poa/.
## ARGS go to `tools/poa start` when it first makes the network, e.g. ARGS="--nodes 5 --period 1";
## `tools/poa status` (heads, peers), `tools/poa reset` (delete it).
poa: bootstrap geth
	@tools/poa start $(ARGS)

poa-stop:
	@tools/poa stop

## Deploy token + exchange to the local anvil (started if needed) and print the addresses.
deploy: node
	APE_FOUNDRY_HOST=$(NODE_URL) ape run deploy --network ethereum:local:foundry $(ARGS)

## Every benchmark in bench/, printed as one table of figures against their targets.
bench: bootstrap
	python -m bench $(ARGS)

clean:
	rm -rf .build contracts/.cache .daisee test-artifacts bench/results
