"""``check --deploy`` refuses the development keys: they are in the public repository, so with them
anyone could sign sessions, decrypt stored passport numbers or recompute their lookup hashes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

DEVELOPMENT_SECRET_KEY = "django-insecure-local-development-key-change-me"  # noqa: S105 - the public one
DEVELOPMENT_FIELD_KEY = "local-development-field-key-change-me"


def _development_keys_in_use() -> list[str]:
    found = []
    if settings.SECRET_KEY == DEVELOPMENT_SECRET_KEY or DEVELOPMENT_SECRET_KEY in settings.SECRET_KEY_FALLBACKS:
        found.append("SECRET_KEY")
    if DEVELOPMENT_FIELD_KEY in settings.FIELD_ENCRYPTION_KEYS:
        found.append("FIELD_ENCRYPTION_KEY")
    if settings.FIELD_HASH_KEY == DEVELOPMENT_FIELD_KEY:
        found.append("FIELD_HASH_KEY")
    return found


@checks.register(checks.Tags.security, deploy=True)
def check_no_development_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    return [
        checks.Error(
            f"{name} is the public development default.",
            hint=f"Set {name} in the environment to a long random value of your own.",
            id="crm.E001",
        )
        for name in _development_keys_in_use()
    ]
