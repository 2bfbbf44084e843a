"""Next best offer: a destination to suggest to one customer, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm.models import Customer


@dataclass(frozen=True)
class Recommendation:
    """``reason`` is a code (rendered in the reader's language when shown); ``data`` what it rests on."""

    destination: str
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


def next_best_offer(*, customer: Customer) -> Recommendation | None:
    """None when nothing is known that would make a suggestion better than none."""
    return None
