"""Miles sent from one member to another, for a fee in miles, within a yearly allowance.

The fee is ``Programme.transfer_fee_percent`` of the miles sent, rounded up to a whole mile, and is
charged **in miles** on top of them: a money fee would need a card payment flow (a pending payment,
the gateway called outside the locks, a refund when the transfer fails), for a charge a member can pay
from the same balance. A transfer posts, in one ledger call, under one key family ``transfer:<uuid>``:

- ``transfer:<uuid>:out``: the sender gives the miles (``TRANSFER``, reason ``transfer_sent``, counterpart the recipient);
- ``transfer:<uuid>:fee``: the sender pays the fee (``TRANSFER``, reason ``transfer_fee``), when there is one;
- ``transfer:<uuid>:in``: the recipient receives the miles (``TRANSFER``, reason ``transfer_received``, counterpart the sender).

A sender may send at most ``Programme.transfer_yearly_cap`` miles per calendar year (the fee does not
count). The miles sent this year are summed with the sender's row locked, so two transfers at once
cannot both fit in the same remaining allowance; the ledger refuses any debit that would overdraw.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.errors import ApplicationError, Conflict
from crm.models import User
from crm.services import timeline_record
from crm.timeline import label
from loyalty.models import EntryKind, Member, MemberStatus, MilesEntry
from loyalty.services.ledger import InsufficientMiles, Posting, miles_post_many
from loyalty.services.membership import member_number_check

SENT = "transfer_sent"
FEE = "transfer_fee"
RECEIVED = "transfer_received"


@dataclass(frozen=True)
class TransferQuote:
    miles: int
    fee: int
    total: int  # what leaves the sender's balance
    cap: int
    sent_this_year: int

    @property
    def remaining(self) -> int:
        return max(self.cap - self.sent_this_year, 0)


@dataclass(frozen=True)
class Transfer:
    transfer_id: uuid.UUID
    sender_id: int
    recipient_id: int
    recipient_number: str
    miles: int
    fee: int
    created: bool  # False when this transfer id had been posted before (a repeated form or request)


def transfer_fee(*, miles: int, percent: Decimal | None = None) -> int:
    """The fee in miles for sending ``miles``: the programme's percentage, rounded up to a whole mile."""
    if percent is None:
        from loyalty.selectors import programme

        percent = programme().transfer_fee_percent
    return math.ceil(Decimal(miles) * Decimal(percent) / 100)


def _year_start(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


def transfer_sent_this_year(*, member: Member) -> int:
    """Miles the member sent to others since 1 January (local time), fees left out."""
    total = MilesEntry.objects.filter(
        member_id=member.pk, kind=EntryKind.TRANSFER, reason=SENT, created_at__gte=_year_start()
    ).aggregate(total=Sum("award_miles"))["total"]
    return -(total or 0)


def transfer_quote(*, member: Member, miles: int) -> TransferQuote:
    """What sending ``miles`` would cost and how much of the year's allowance is left (changes nothing)."""
    from loyalty.selectors import programme

    settings_row = programme()
    fee = transfer_fee(miles=miles, percent=settings_row.transfer_fee_percent) if miles > 0 else 0
    return TransferQuote(
        miles=miles,
        fee=fee,
        total=miles + fee,
        cap=settings_row.transfer_yearly_cap,
        sent_this_year=transfer_sent_this_year(member=member),
    )


def _miles_error(message: str, code: str, *, status: int = 400) -> ApplicationError:
    return ApplicationError(message, code=code, fields={"miles": [message]}, status=status)


def _already_posted(*, transfer_id: uuid.UUID, sender: Member) -> Transfer | None:
    entries = {
        e.reason: e
        # The three keys exactly: the key's index serves equality only (no prefix search on the ledger).
        for e in MilesEntry.objects.filter(
            idempotency_key__in=[f"transfer:{transfer_id}:{part}" for part in ("out", "fee", "in")]
        ).select_related("member")
    }
    out = entries.get(SENT)
    if out is None:
        return None
    if out.member_id != sender.pk:
        raise Conflict(_("This transfer reference is already used."), code="transfer_id_taken")
    fee = entries.get(FEE)
    return Transfer(
        transfer_id=transfer_id, sender_id=sender.pk, recipient_id=out.counterpart_id,
        recipient_number=entries[RECEIVED].member.number, miles=-out.award_miles,
        fee=-fee.award_miles if fee else 0, created=False,
    )  # fmt: skip


@transaction.atomic
def miles_transfer(
    *,
    sender: Member,
    recipient_number: str,
    recipient_family_name: str,
    miles: int,
    by: User | None,
    transfer_id: uuid.UUID | None = None,
) -> Transfer:
    """Send ``miles`` to another active member named by number and family name, paying the fee in miles.

    ``transfer_id`` (optional) makes a repeated submission harmless: a transfer already posted under it
    is returned as it was, with ``created=False``.
    """
    from loyalty.selectors import programme

    transfer_id = transfer_id or uuid.uuid4()
    if isinstance(miles, bool) or not isinstance(miles, int):
        raise _miles_error(_("Enter a whole number of miles."), "invalid_miles")
    settings_row = programme()
    if miles < settings_row.transfer_minimum_miles:
        raise _miles_error(
            _("The smallest transfer is %(minimum)s miles.") % {"minimum": f"{settings_row.transfer_minimum_miles:,}"},
            "transfer_too_small",
        )
    recipient = member_number_check(number=recipient_number, family_name=recipient_family_name)
    if recipient.pk == sender.pk:
        message = _("You cannot send miles to yourself.")
        raise ApplicationError(message, code="transfer_to_self", fields={"frequent_flyer_number": [message]})
    # Both rows locked in pk order (as the ledger does): the allowance below is read under the sender's lock.
    locked = {m.pk: m for m in Member.objects.select_for_update().filter(pk__in=[sender.pk, recipient.pk]).order_by("pk")}
    locked_sender = locked[sender.pk]
    repeated = _already_posted(transfer_id=transfer_id, sender=locked_sender)
    if repeated is not None:
        return repeated
    if locked_sender.status != MemberStatus.ACTIVE:
        raise Conflict(_("This membership is closed."), code="member_closed")
    quote = transfer_quote(member=locked_sender, miles=miles)
    if miles > quote.remaining:
        raise _miles_error(
            _("You can send %(remaining)s more miles this year (the yearly limit is %(cap)s).")
            % {"remaining": f"{quote.remaining:,}", "cap": f"{quote.cap:,}"},
            "transfer_cap_reached",
            status=409,
        )
    if locked_sender.award_balance < quote.total:
        message = _("You have %(balance)s miles; this transfer needs %(total)s, including the fee of %(fee)s.") % {
            "balance": f"{locked_sender.award_balance:,}",
            "total": f"{quote.total:,}",
            "fee": f"{quote.fee:,}",
        }
        raise InsufficientMiles(message, fields={"miles": [message]})
    key = f"transfer:{transfer_id}"
    details = {"transfer": str(transfer_id), "sender": locked_sender.number, "recipient": recipient.number}
    postings = [
        Posting(member_id=sender.pk, kind=EntryKind.TRANSFER, reason=SENT, key=f"{key}:out", award=-miles, details=details, counterpart_id=recipient.pk),
        Posting(member_id=recipient.pk, kind=EntryKind.TRANSFER, reason=RECEIVED, key=f"{key}:in", award=miles, details=details, counterpart_id=sender.pk),
    ]  # fmt: skip
    if quote.fee:
        postings.append(
            Posting(
                member_id=sender.pk,
                kind=EntryKind.TRANSFER,
                reason=FEE,
                key=f"{key}:fee",
                award=-quote.fee,
                details={**details, "miles": miles},
            )
        )
    miles_post_many(postings=postings, by=by)
    data = {**details, "miles": miles, "fee": quote.fee}
    if locked_sender.customer_id:
        timeline_record(
            customer=locked_sender.customer, kind="miles.transfer_sent", data=data, actor=by,
            message=gettext_noop("Sent %(miles)s miles to member %(number)s (fee %(fee)s miles)"),
            params={"miles": label("crm.number", miles), "number": recipient.number, "fee": label("crm.number", quote.fee)},
        )  # fmt: skip
    if recipient.customer_id:
        timeline_record(
            customer=recipient.customer, kind="miles.transfer_received", data=data, actor=by,
            message=gettext_noop("Received %(miles)s miles from member %(number)s"),
            params={"miles": label("crm.number", miles), "number": locked_sender.number},
        )  # fmt: skip
    return Transfer(
        transfer_id=transfer_id, sender_id=sender.pk, recipient_id=recipient.pk, recipient_number=recipient.number,
        miles=miles, fee=quote.fee, created=True,
    )  # fmt: skip
