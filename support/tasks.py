"""support: tasks."""
