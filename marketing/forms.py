"""marketing: forms."""
