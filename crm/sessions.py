"""Database sessions that ignore a malformed session cookie instead of failing on it."""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key: str | None) -> bool:
        # Django's keys are alphanumeric; anything else (a NUL byte, say) would reach SQL and fail there.
        return bool(key) and key.isalnum() and super()._validate_session_key(key)
