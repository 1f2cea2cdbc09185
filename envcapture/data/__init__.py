"""Data sets: specs, fingerprints and their cache, DVC, `check`'s data part and `protect`."""
