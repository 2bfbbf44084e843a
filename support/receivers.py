"""Reactions to other apps' events and this app's customer-record extension."""
