"""The relay service: follows the exchange's BuyEnergy/PurchaseSettled events for the members wired
to this relay board and switches each member's supply between its own source and a seller's
channel. It decides nothing the contract did not decide.

config.py   settings (YAML + env) and the channel map
state.py    what the relay believes (cursor, supply per member, handled purchase ids), saved atomically
handler.py  the pure event handler: (state, event, config) -> (state, actions)
board.py    relay boards: pins from supplies, RPi.GPIO and simulated backends
service.py  the thin loop: fetch, handle, switch, save, fail-safe
cli.py      `daisee-relay run | state | set`
"""
