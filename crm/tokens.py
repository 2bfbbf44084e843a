"""API tokens end: ``API_TOKEN_TTL`` seconds after they were issued, and at once when the login's
password changes (portal, office, admin, password reset: whatever calls ``set_password`` and saves)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone
from rest_framework.authtoken.models import Token

from crm.models import User


def token_expires_at(created: datetime) -> datetime:
    return created + timedelta(seconds=settings.API_TOKEN_TTL)


def token_has_expired(created: datetime) -> bool:
    return timezone.now() >= token_expires_at(created)


@receiver(post_save, sender=User, dispatch_uid="crm.tokens.end_tokens_on_password_change")
def end_tokens_on_password_change(sender: Any, instance: User, **kwargs: Any) -> None:
    """``set_password`` keeps the new password on ``_password`` until the save that stores it: a token
    issued under the old password must not outlive it. (Re-hashing the same password on login does not
    set ``_password``, so it ends nothing.)"""
    if getattr(instance, "_password", None) is not None:
        Token.objects.filter(user=instance).delete()
