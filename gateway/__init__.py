"""The gateway: settings, store, supervisor, web API and command line."""
