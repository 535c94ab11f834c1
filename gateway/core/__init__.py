"""The leaf every layer may import: clock, backoff, closing, the one exception tree, problems,
the clinic's time zone, month bounds, compartment references and whether a host is this
machine. It imports no project code."""
