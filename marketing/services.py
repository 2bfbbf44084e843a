"""marketing: services."""
