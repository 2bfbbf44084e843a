"""support: admin."""
