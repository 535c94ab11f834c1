"""The leaf every layer may import: clock, backoff, closing, the one exception tree, problems,
the clinic's time zone, month bounds and compartment references. It imports no project code."""
