"""reservations: selectors."""
