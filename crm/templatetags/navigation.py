"""The menus of the office and the portal, from the links each app registered in ``crm.registry``."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from crm import registry

register = template.Library()


@register.simple_tag(takes_context=True)
def navigation(context: template.Context, surface: str) -> list[dict[str, Any]]:
    """``{% navigation "office" as items %}``: label, url and whether it is the current page, for this user."""
    request = context.get("request")
    user = context.get("user") or getattr(request, "user", None)
    match = getattr(request, "resolver_match", None)
    current = match.url_name if match else None
    return [
        {"label": item.label, "url": reverse(item.url_name), "current": current in item.current}
        for item in registry.nav_items(surface, user)
    ]
