"""marketing: selectors."""
