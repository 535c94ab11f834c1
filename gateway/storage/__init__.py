"""Every SQLite file of the gateway and all of its SQL: one module per store, one registry."""
