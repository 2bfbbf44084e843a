"""loyalty: admin."""
