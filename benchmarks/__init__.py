"""Scripts that print tables of measured figures (importable by the tests)."""
