"""support: forms."""
