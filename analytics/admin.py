"""analytics: admin."""
