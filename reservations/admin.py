"""reservations: admin."""
