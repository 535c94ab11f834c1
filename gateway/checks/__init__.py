"""The clinic's own checks of its probes: calibration against a reference thermometer and the
twice-daily manual temperature record."""
