"""The gateway's lifecycle: the services built from the settings, and the supervisor that runs,
reconfigures and stops them."""

from gateway.runtime.gateway import Gateway, install_stop_signals

__all__ = ["Gateway", "install_stop_signals"]
