"""analytics: models."""
