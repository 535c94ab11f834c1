"""The schema of every store: its forward-only migrations, one module per SQLite file."""
