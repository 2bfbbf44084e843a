"""loyalty: selectors."""
