"""analytics: tasks."""
