"""marketing: models."""
