"""Command families; each module's component registers itself with the core."""
