"""Capture: `envcapture freeze` runs the probes and assembles one manifest."""
