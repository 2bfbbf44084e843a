"""reservations: models."""
