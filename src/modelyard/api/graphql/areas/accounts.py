"""accounts: filled in by its area."""
