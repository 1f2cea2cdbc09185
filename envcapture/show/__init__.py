"""`envcapture show`: a readable summary of one manifest for a person at a terminal."""
