"""marketing: admin."""
