"""Collective self-consumption: what a PMO does with its members' meter data every period.

One module per step, each pure numpy/pandas (no chain access): `io` reads meter data (the grid
operator's load-curve CSV, a wide CSV of our own, the exchange's MeterReading events) into long
readings; `check` turns them into conformity reports and clean `Curves`; `allocate` shares local
production among consumers per step with the keys a grid operator accepts; `tariffs` holds the
effective-dated rate tables, `bill` turns an allocation and the members' contracts into versioned
statements (Decimal) and `statement` renders them as HTML and PDF. `cli` is the PMO operator's
`daisee-collective` command.
"""
