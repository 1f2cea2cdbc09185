"""``envcapture export``: the manifest in the formats security teams and research repositories read
(CycloneDX 1.6, SPDX 2.3, RO-Crate 1.1). Each module turns the neutral component list of components.py
into one format with that format's own library."""
