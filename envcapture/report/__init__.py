"""Outputs for a paper: ``envcapture report`` (Markdown, LaTeX, HTML) built from one neutral model (facts.py)."""
