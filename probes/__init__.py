"""Probe drivers and pure decoders: everything that turns a device's bytes into a Reading."""
