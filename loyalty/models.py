"""loyalty: models."""
