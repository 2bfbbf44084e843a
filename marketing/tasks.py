"""marketing: tasks."""
