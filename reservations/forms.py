"""reservations: forms."""
