"""support: selectors."""
