"""DAISEE meter oracle: reads a meter, integrates power into cumulative Wh counters, validates,
queues durably in SQLite and submits batches to the exchange contract's `submitReadings`.

It holds no exchange rule: thresholds, prices and purchases are the contract's business.
"""
