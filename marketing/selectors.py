"""marketing: reads."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.errors import NotFound
from marketing.models import Segment, StaticList


def segments() -> QuerySet[Segment]:
    return Segment.objects.select_related("created_by").order_by("name", "id")


def segment_get(*, segment_id: int) -> Segment:
    try:
        return segments().get(pk=segment_id)
    except Segment.DoesNotExist:
        raise NotFound("No such segment.") from None


def static_lists() -> QuerySet[StaticList]:
    return StaticList.objects.select_related("created_by").order_by("name", "id")
