"""activity: filled in by its area."""
