"""billing: filled in by its area."""
