"""Members and their ledger, built through the services so balances always match the entries."""

from __future__ import annotations

import itertools

from loyalty import services
from loyalty.models import EntryKind, Member
from tests.crm.factories import CustomerFactory

_keys = itertools.count(1)


def member(customer=None, **customer_kwargs) -> Member:  # noqa: ANN001
    """An enrolled member (entry tier) for ``customer`` or a new customer."""
    customer = customer or CustomerFactory(**customer_kwargs)
    return services.member_enrol(customer=customer, channel="office")


def credit(m: Member, award: int, *, qualifying: int = 0, segments: int = 0, kind: str = EntryKind.BONUS, key: str = ""):  # noqa: ANN201
    """Post a credit (a bonus unless told) and return the entry."""
    return services.miles_post(
        posting=services.Posting(
            member_id=m.pk, kind=kind, reason="welcome_bonus", key=key or f"test:{next(_keys)}",
            award=award, qualifying=qualifying, segments=segments,
        )
    )  # fmt: skip
