"""loyalty: tasks."""
