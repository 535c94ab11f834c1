"""Commissioning at the fridge: discovering what is connected, identifying a probe, and the
technician's forms (install, replace, move, rename, decommission) applied to the running
gateway's configuration."""
