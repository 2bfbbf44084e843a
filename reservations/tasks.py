"""reservations: tasks."""
