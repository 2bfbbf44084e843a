"""Joining the programme and checking the numbers people type."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.errors import ApplicationError
from crm.events import send_after_commit
from crm.models import Customer, User
from loyalty import events, numbers
from loyalty.models import Member, MemberStatus, Tier

FIELD = "frequent_flyer_number"


@transaction.atomic
def member_enrol(*, customer: Customer, channel: str, by: User | None = None) -> Member:
    """Make the customer a member in the entry tier; a customer who already is one keeps that membership.

    The customer row is locked first, so two enrolments at once (a tick at booking and the portal's
    button) make one member.
    """
    Customer.objects.select_for_update().only("pk").get(pk=customer.pk)
    existing = Member.objects.select_related("tier").filter(customer=customer).first()
    if existing is not None:
        return existing
    entry_tier = Tier.objects.order_by("rank").first()
    if entry_tier is None:
        raise ApplicationError(_("The programme has no tiers yet."), code="programme_not_ready", status=409)
    today = timezone.localdate()
    for _attempt in range(5):
        try:
            with transaction.atomic():
                member = Member.objects.create(
                    customer=customer,
                    number=numbers.new_number(),
                    tier=entry_tier,
                    tier_since=today,
                    qualification_start=today,
                    enrolment_channel=channel,
                    enrolled_by=by if by is not None and by.is_authenticated else None,
                )
            break
        except IntegrityError:  # a random number already taken: draw again
            continue
    else:  # pragma: no cover - five collisions in a billion numbers
        raise ApplicationError(_("Please try again."), code="number_unavailable", status=409)
    send_after_commit(events.member_enrolled, sender=Member, member_id=member.pk, customer_id=customer.pk, channel=channel)
    return member


def member_number_check(*, number: str, family_name: str | None = None) -> Member:
    """The active member behind a typed frequent flyer number, or a refusal naming the field.

    A number failing its check digit is refused before any lookup; with ``family_name`` the member's
    record must carry the same family name (case and accents aside), so a traveller cannot earn on
    someone else's account.
    """
    cleaned = numbers.clean(number)
    if not numbers.is_valid(cleaned):
        message = _("This is not a valid frequent flyer number: check the digits.")
        raise ApplicationError(message, code="invalid_frequent_flyer_number", fields={FIELD: [message]})
    member = Member.objects.select_related("customer").filter(number=cleaned, status=MemberStatus.ACTIVE).first()
    if member is None or member.customer is None:
        message = _("No member has this frequent flyer number.")
        raise ApplicationError(message, code="unknown_frequent_flyer_number", fields={FIELD: [message]})
    if family_name is not None and name_fold(member.customer.family_name) != name_fold(family_name):
        message = _("This frequent flyer number belongs to someone with another family name.")
        raise ApplicationError(message, code="frequent_flyer_name_mismatch", fields={FIELD: [message]})
    return member


def name_fold(name: str) -> str:
    """A name as compared across records: accents, case, spaces and punctuation set aside."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", name or "")
    return "".join(ch for ch in decomposed if ch.isalnum()).casefold()
