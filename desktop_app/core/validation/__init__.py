"""Labelled films and measuring the model on them (local validation, its records and report)."""
