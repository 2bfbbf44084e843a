"""analytics: selectors."""
