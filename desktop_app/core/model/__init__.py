"""The classifier's model bundle: its card, loading and verifying it, the installed models."""
