"""reservations: services."""
