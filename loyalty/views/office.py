"""Office pages."""
