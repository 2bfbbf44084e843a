"""analytics: services."""
