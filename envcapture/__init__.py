"""envcapture: record an ML environment into one manifest, and turn it back into a working environment."""

__version__ = "0.1.0"
SCHEMA_VERSION = 1
