"""The gateway's exception tree. Library errors are translated into these at the edges."""


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigError(GatewayError):
    """The configuration cannot be used; the message lists every problem with its fix."""


class StoreError(GatewayError):
    """The SQLite store cannot be opened or written."""
