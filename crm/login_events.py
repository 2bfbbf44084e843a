"""``login_changed``: sent when a login's e-mail address or password is saved changed.

Watched at the model, like ``crm.tokens``: the portal's password change and reset, the admin and a
shell all end in ``User.save``, so no path that changes a credential can forget to say so.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from crm import events
from crm.models import Customer, User

EMAIL = "email"
PASSWORD = "password"  # noqa: S105 - what changed, not a secret
_WATCHED_FIELDS = frozenset({"email", "username", "password"})


def _address(email: str | None, username: str | None) -> tuple[str, str]:
    return ((email or "").casefold(), (username or "").casefold())


@receiver(pre_save, sender=User, dispatch_uid="crm.login_events.remember_stored")
def remember_stored(sender: Any, instance: User, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    """Read the stored address and password before a save that may change them (one primary-key read;
    none before the ``last_login`` update of every log-in)."""
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not (_WATCHED_FIELDS & set(update_fields)):
        return
    instance._stored_login = User.objects.filter(pk=instance.pk).values_list("email", "username", "password").first()


@receiver(post_save, sender=User, dispatch_uid="crm.login_events.send_login_changed")
def send_login_changed(sender: Any, instance: User, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    stored = instance.__dict__.pop("_stored_login", None)
    if created or raw or stored is None or not instance.is_active:
        return
    email, username, password = stored
    changed = []
    if _address(email, username) != _address(instance.email, instance.username):
        changed.append(EMAIL)
    # set_password keeps the new password on _password until this save stores it (see crm.tokens); a
    # login's first password (none stored before) is setting one, not changing it.
    if getattr(instance, "_password", None) is not None and password:
        changed.append(PASSWORD)
    if not changed:
        return
    customer_id = Customer.objects.filter(user_id=instance.pk).values_list("pk", flat=True).first()
    for what in changed:
        events.send_after_commit(events.login_changed, sender=Customer, user_id=instance.pk, customer_id=customer_id, what=what)
