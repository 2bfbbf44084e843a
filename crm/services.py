"""Every write to the customer record, and the rules that go with it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from auditlog.context import disable_auditlog, set_actor
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from rest_framework.authtoken.models import Token

from crm import events, registry, rows, selectors, timeline
from crm.celery import task_enqueue, task_enqueue_on_commit
from crm.errors import ApplicationError, Conflict, NotFound
from crm.models import (
    AccessAction,
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
    Customer,
    CustomerAccess,
    CustomerMerge,
    DistinctCustomerPair,
    Lead,
    LeadNote,
    LeadStatus,
    OutboundEmail,
    TimelineEntry,
    User,
    new_customer_number,
)
from crm.permissions import PASSENGER
from crm.selectors import consent_is_granted, identity_hash
from crm.timeline import label, phrase
from crm.tokens import token_has_expired

# Fields a person may set on a customer record (through a form, the API or an import).
EDITABLE_FIELDS = (
    "title", "given_name", "family_name", "gender", "date_of_birth", "email", "phone", "nationality",
    "preferred_language", "address_line1", "address_line2", "city", "region", "postal_code", "country",
    "national_id_number", "passport_number", "passport_expiry", "passport_country", "meal_preference",
    "seat_preference", "special_assistance", "preferred_cabin", "home_airport", "travel_purposes",
    "emergency_contact_name", "emergency_contact_phone", "emergency_contact_relationship",
)  # fmt: skip
DOCUMENT_FIELDS = {"national_id_number": "national_id_hash", "passport_number": "passport_hash"}


def _validation_error_to_application_error(exc: ValidationError) -> ApplicationError:
    fields = {k: [str(m) for m in v] for k, v in exc.message_dict.items()} if hasattr(exc, "error_dict") else {}
    message = _("Please correct the highlighted fields.") if fields else " ".join(exc.messages)
    return ApplicationError(message, code="invalid", fields=fields)


def _clean_customer(customer: Customer) -> None:
    errors: dict[str, list[str]] = {}
    if customer.home_airport:
        customer.home_airport = customer.home_airport.upper()
        if customer.home_airport not in _airports():
            errors["home_airport"] = [_("Unknown IATA airport code.")]
    if customer.date_of_birth and customer.date_of_birth > timezone.localdate():
        errors["date_of_birth"] = [_("Date of birth cannot be in the future.")]
    customer.email = (customer.email or "").strip().lower()
    for field in DOCUMENT_FIELDS:
        value = getattr(customer, field)
        if value:
            setattr(customer, field, "".join(value.split()).upper())
    try:
        customer.full_clean(exclude=["customer_number", "user", "search_name", "name_words"])
    except ValidationError as exc:
        for k, v in exc.message_dict.items():
            errors.setdefault(k, []).extend(v)
    if errors:
        raise ApplicationError(_("Please correct the highlighted fields."), code="invalid", fields=errors)


_AIRPORTS: set[str] | None = None


def _airports() -> set[str]:
    global _AIRPORTS
    if _AIRPORTS is None:
        import airportsdata

        _AIRPORTS = set(airportsdata.load("IATA"))
    return _AIRPORTS


def _refresh_hashes(customer: Customer) -> None:
    for field, hash_field in DOCUMENT_FIELDS.items():
        setattr(customer, hash_field, identity_hash(getattr(customer, field)))


def _display(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value) if value not in (None, "") else ""


@transaction.atomic
def customer_create(*, data: dict[str, Any], by: User | None = None, user: User | None = None) -> Customer:
    """Create a customer; agents may create one with no portal login."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)), code="invalid")
    customer = Customer(user=user, **data)
    _clean_customer(customer)
    _refresh_hashes(customer)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                customer.save()
            break
        except IntegrityError:
            customer.customer_number = new_customer_number()
    else:
        raise Conflict(_("Could not allocate a customer number; please try again."))
    timeline_record(customer=customer, kind="customer.created", message=gettext_noop("Customer record created"), actor=by)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, data: dict[str, Any], by: User | None = None) -> Customer:
    """Change profile fields; the change log (who, from, to) is kept by auditlog."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)), code="invalid")
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    if locked.is_anonymized:
        raise ApplicationError(_("This customer record has been erased."), code="erased")
    changed = [f for f, v in data.items() if getattr(locked, f) != v]
    for field in changed:
        setattr(locked, field, data[field])
    _clean_customer(locked)
    if not changed:
        return locked
    _refresh_hashes(locked)
    update_fields = set(changed) | {"updated_at", "email"}
    update_fields |= {DOCUMENT_FIELDS[f] for f in changed if f in DOCUMENT_FIELDS}
    # The change log names the person even outside a web request (API token, task, command).
    with set_actor(by) if by is not None and by.is_authenticated else contextlib.nullcontext():
        locked.save(update_fields=sorted(update_fields))
    timeline_record(
        customer=locked,
        kind="profile.changed",
        message=gettext_noop("Profile changed: %(fields)s"),
        params={"fields": label("crm.profile_fields", changed)},
        data={"fields": changed},
        actor=by,
    )
    return locked


def timeline_record(
    *,
    customer: Customer,
    kind: str,
    message: str = "",
    params: dict[str, Any] | None = None,
    summary: str = "",
    data: dict[str, Any] | None = None,
    link: str = "",
    actor: User | None = None,
    occurred_at: datetime | None = None,
) -> TimelineEntry:
    """Append to the customer's timeline; any app may call this (keep personal data out of the line).

    ``message`` is the untranslated msgid (``gettext_noop``) and ``params`` its language-neutral values
    (see ``crm.timeline``): the line is rendered in the reader's language when shown. ``summary`` is
    filled from them in the site's language, for search and as a fallback; a caller may still pass a
    ready ``summary`` instead of a message.

    Written by ``crm.rows.insert``, the ORM's INSERT without its compiling (every booking writes one entry;
    nothing listens to a timeline entry's save).
    """
    params = params or {}
    if message:
        with translation.override(settings.LANGUAGE_CODE):
            summary = timeline.render(message, params)
    entry = TimelineEntry(
        customer=customer,
        kind=kind,
        summary=str(summary)[:300],
        message=message,
        message_params=params,
        data=data or {},
        link=link,
        actor=actor if actor is not None and actor.is_authenticated else None,
        occurred_at=occurred_at or timezone.now(),
    )
    rows.insert([entry])
    return entry


@transaction.atomic
def consent_record(
    *,
    customer: Customer,
    channel: str,
    purpose: str,
    granted: bool,
    source: str,
    method: str = "",
    by: User | None = None,
) -> ConsentEvent:
    """Append a grant or withdrawal; the history is never rewritten."""
    if channel not in ConsentChannel.values:
        raise ApplicationError(_("Unknown consent channel."), code="invalid", fields={"channel": [_("Unknown channel.")]})
    if purpose not in ConsentPurpose.values:
        raise ApplicationError(_("Unknown consent purpose."), code="invalid", fields={"purpose": [_("Unknown purpose.")]})
    if source not in ConsentSource.values:
        raise ApplicationError(_("Unknown consent source."), code="invalid", fields={"source": [_("Unknown source.")]})
    was_granted = consent_is_granted(customer=customer, channel=channel, purpose=purpose)
    event = ConsentEvent.objects.create(
        customer=customer,
        channel=channel,
        purpose=purpose,
        granted=granted,
        source=source,
        method=method[:200],
        recorded_by=by if by is not None and by.is_authenticated else None,
    )
    timeline_record(
        customer=customer,
        kind="consent.changed",
        message=gettext_noop("Consent %(verb)s: %(channel)s / %(purpose)s"),
        params={
            "verb": phrase(gettext_noop("granted") if granted else gettext_noop("withdrawn")),
            "channel": label("crm.consent_channel", channel),
            "purpose": label("crm.consent_purpose", purpose),
        },
        actor=by,
    )
    if granted != was_granted:
        events.send_after_commit(
            events.consent_changed,
            sender=Customer,
            customer_id=customer.pk,
            channel=channel,
            purpose=purpose,
            granted=granted,
            source=source,
            consent_event_id=event.pk,
        )
    return event


@transaction.atomic
def consent_record_changes(
    *,
    customer: Customer,
    wanted: dict[tuple[str, str], bool],
    source: str,
    method: str = "",
    by: User | None = None,
) -> list[ConsentEvent]:
    """Record only the answers that differ from the current state (never answered counts as no consent).

    The customer row is locked first, so a form submitted twice at once records each change once.
    """
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    current = selectors.consent_current(customer=customer)
    return [
        consent_record(customer=customer, channel=channel, purpose=purpose, granted=granted, source=source, method=method, by=by)
        for (channel, purpose), granted in wanted.items()
        if bool(current.get((channel, purpose)) and current[(channel, purpose)].granted) != bool(granted)
    ]


def customer_access_record(
    *, customer: Customer, user: User, surface: str, path: str, view_name: str = "", method: str = "GET"
) -> CustomerAccess:
    """Audit one staff look at a customer record, or one change or action sent to it (``method`` other than
    GET or HEAD: a POST is an action, not a view)."""
    return CustomerAccess.objects.create(
        customer=customer,
        user=user,
        surface=surface,
        path=path[:300],
        view_name=view_name[:100],
        action=AccessAction.for_method(method),
    )


# --- Portal accounts ------------------------------------------------------------------------


@transaction.atomic
def passenger_register(*, email: str, password: str, given_name: str, family_name: str, preferred_language: str = "en") -> User:
    """A self-service account: a login (username = e-mail) with a customer record of its own.

    A record an agent made earlier for the same address is joined only once the address is
    verified by someone who also knows the password (passenger_verify_email), so registering
    someone else's address never opens their record.
    """
    from django.contrib.auth.password_validation import validate_password

    email = email.strip().lower()
    if User.objects.filter(username__iexact=email).exists():
        raise ApplicationError(
            _("An account with this e-mail already exists."),
            code="email_taken",
            fields={"email": [_("An account with this e-mail already exists.")]},
        )
    user = User(username=email, email=email, first_name=given_name[:150], last_name=family_name[:150])
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code="invalid", fields={"password": list(exc.messages)}) from None
    user.set_password(password)
    user.save()
    user.groups.add(Group.objects.get(name=PASSENGER))
    customer = customer_create(
        data={"given_name": given_name, "family_name": family_name, "email": email, "preferred_language": preferred_language},
        user=user,
    )
    timeline_record(customer=customer, kind="account.registered", message=gettext_noop("Registered for the self-service portal"))
    events.send_after_commit(events.customer_registered, sender=Customer, customer_id=customer.pk, user_id=user.pk)
    return user


@transaction.atomic
def passenger_verify_email(*, user: User) -> User:
    """Mark the address verified and adopt the record an agent made for it, so history is kept."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.email_verified_at is not None:
        return user
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    own = Customer.objects.filter(user=user).first()
    known = (
        Customer.objects.annotate(email_lower=models.functions.Lower("email"))
        .filter(email_lower=user.email.lower(), user__isnull=True, anonymized_at__isnull=True)
        .order_by("id")
        .first()
    )
    if own is not None and known is not None and user.email:
        customer_merge(survivor=known, loser=own, by=user)
        own = known
    if own is not None:
        events.send_after_commit(events.customer_verified, sender=Customer, customer_id=own.pk, user_id=user.pk)
    return user


@transaction.atomic
def api_token_issue(*, user: User) -> Token:
    """The API token of a login that just proved its password: one per login, reused until it expires
    (``API_TOKEN_TTL``), the password changes or the account is erased; an expired one is replaced."""
    token, created = Token.objects.select_for_update().get_or_create(user=user)
    if not created and token_has_expired(token.created):
        token.delete()
        token = Token.objects.create(user=user)
    return token


# --- Leads ----------------------------------------------------------------------------------

LEAD_TRANSITIONS = {
    LeadStatus.NEW: {LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.LOST},
    LeadStatus.CONTACTED: {LeadStatus.QUALIFIED, LeadStatus.LOST},
    LeadStatus.QUALIFIED: {LeadStatus.CONTACTED, LeadStatus.CONVERTED, LeadStatus.LOST},
    LeadStatus.LOST: {LeadStatus.NEW},
    LeadStatus.CONVERTED: set(),
}


@transaction.atomic
def lead_create(*, data: dict[str, Any], by: User | None = None) -> Lead:
    """Marketing (or anyone) hands a prospect to sales."""
    lead = Lead(created_by=by, **data)
    lead.email = (lead.email or "").strip().lower()
    try:
        lead.full_clean(exclude=["converted_customer", "created_by"])
    except ValidationError as exc:
        raise _validation_error_to_application_error(exc) from None
    lead.save()
    LeadNote.objects.create(lead=lead, to_status=lead.status, text=_("Lead created"), author=by)
    return lead


# Fields that may change on a lead after it was handed over; status moves only through lead_advance/lead_convert.
LEAD_EDITABLE_FIELDS = (
    "given_name", "family_name", "email", "phone", "company", "source", "source_detail", "referred_by",
    "interest", "owner",
)  # fmt: skip


@transaction.atomic
def lead_update(*, lead: Lead, data: dict[str, Any], by: User | None = None) -> Lead:
    """Correct or complete a lead's details (not its pipeline status)."""
    unknown = set(data) - set(LEAD_EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)), code="invalid")
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    changed = [f for f, v in data.items() if getattr(lead, f) != v]
    for field in changed:
        setattr(lead, field, data[field])
    lead.email = (lead.email or "").strip().lower()
    try:
        lead.full_clean(exclude=["converted_customer", "created_by"])
    except ValidationError as exc:
        raise _validation_error_to_application_error(exc) from None
    if changed:
        lead.save(update_fields=sorted(set(changed) | {"email", "updated_at"}))
        labels = [str(Lead._meta.get_field(f).verbose_name) for f in changed]
        LeadNote.objects.create(lead=lead, text=_("Details changed: %s") % ", ".join(labels), author=by)
    return lead


@transaction.atomic
def lead_advance(*, lead: Lead, to_status: str, by: User | None = None, note: str = "", lost_reason: str = "") -> Lead:
    """Move a lead along the pipeline (new → contacted → qualified → converted, or lost)."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if to_status == LeadStatus.CONVERTED:
        raise ApplicationError(_("Convert a lead by linking it to a customer."), code="use_convert")
    if to_status not in LEAD_TRANSITIONS.get(lead.status, set()):
        raise Conflict(
            _("A %(from)s lead cannot become %(to)s.") % {"from": lead.get_status_display(), "to": to_status},
            code="invalid_transition",
        )
    if to_status == LeadStatus.LOST and not lost_reason.strip():
        raise ApplicationError(
            _("Say why the lead was lost."), code="invalid", fields={"lost_reason": [_("This field is required.")]}
        )
    LeadNote.objects.create(lead=lead, from_status=lead.status, to_status=to_status, text=note, author=by)
    lead.status = to_status
    lead.lost_reason = lost_reason.strip() if to_status == LeadStatus.LOST else ""
    lead.save(update_fields=["status", "lost_reason", "updated_at"])
    return lead


def lead_convert_check(*, by: User | None, to_existing_customer: bool) -> None:
    """Who may convert a lead: linking it to an existing customer means looking customers up
    (crm.view_customer); creating the customer from the lead's details needs crm.add_customer.

    The API asks before it looks the customer number up, so a refusal never tells whether a number exists.
    """
    if by is None:
        return
    if to_existing_customer and not by.has_perm("crm.view_customer"):
        message = _("You may not look up customers: leave the number empty to create the customer from the lead.")
    elif not to_existing_customer and not by.has_perm("crm.add_customer"):
        message = _("You may not create customers: give the number of an existing customer.")
    else:
        return
    raise ApplicationError(message, code="forbidden", status=403, fields={"customer_number": [message]})


@transaction.atomic
def lead_convert(*, lead: Lead, customer: Customer | None = None, by: User | None = None) -> Lead:
    """The prospect became a customer: link them (creating the record if needed)."""
    lead_convert_check(by=by, to_existing_customer=customer is not None)
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.status == LeadStatus.CONVERTED:
        raise Conflict(_("This lead is already converted."), code="already_converted")
    if lead.status == LeadStatus.LOST:
        raise Conflict(_("Reopen a lost lead before converting it."), code="invalid_transition")
    if customer is None:
        customer = customer_create(
            data={"given_name": lead.given_name, "family_name": lead.family_name, "email": lead.email, "phone": lead.phone},
            by=by,
        )
    LeadNote.objects.create(lead=lead, from_status=lead.status, to_status=LeadStatus.CONVERTED, text=_("Converted"), author=by)
    lead.status = LeadStatus.CONVERTED
    lead.converted_customer = customer
    lead.converted_at = timezone.now()
    lead.save(update_fields=["status", "converted_customer", "converted_at", "updated_at"])
    timeline_record(
        customer=customer,
        kind="lead.converted",
        message=gettext_noop("Became a customer from a lead (%(source)s)"),
        params={"source": label("crm.lead_source", lead.source)},
        data={"lead_id": lead.pk, "source": lead.source, "source_detail": lead.source_detail},
        actor=by,
    )
    return lead


def lead_note_add(*, lead: Lead, text: str, by: User | None = None) -> LeadNote:
    """A contact note on a lead (a call, an e-mail) that does not move it along the pipeline."""
    text = (text or "").strip()
    if not text:
        raise ApplicationError(_("Write the note first."), code="invalid", fields={"text": [_("This field is required.")]})
    return LeadNote.objects.create(lead=lead, text=text[:5000], author=by if by is not None and by.is_authenticated else None)


# --- Duplicates, export, erasure ------------------------------------------------------------


@transaction.atomic
def customer_merge(*, survivor: Customer, loser: Customer, by: User | None = None) -> CustomerMerge:
    """Fold ``loser`` into ``survivor``: every app moves its rows, blanks are filled, loser goes.

    Both rows are locked in primary-key order so two merges never deadlock.
    """
    if survivor.pk == loser.pk:
        raise ApplicationError(_("A customer cannot be merged with itself."), code="same_customer")
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[survivor.pk, loser.pk]).order_by("pk")}
    if len(locked) != 2:
        raise Conflict(_("One of these customers no longer exists (already merged?)."), code="gone")
    survivor, loser = locked[survivor.pk], locked[loser.pk]
    if survivor.is_anonymized or loser.is_anonymized:
        raise ApplicationError(_("Erased customers cannot be merged."), code="erased")
    if survivor.user_id and loser.user_id:
        raise Conflict(_("Both customers have a portal login; one of them must close their account first."), code="two_logins")
    filled = []
    for field in EDITABLE_FIELDS:
        if getattr(survivor, field) in ("", None, []) and getattr(loser, field) not in ("", None, []):
            setattr(survivor, field, getattr(loser, field))
            filled.append(field)
    moved = registry.merge(survivor, loser)
    loser_user, loser_id = loser.user, loser.pk
    record = CustomerMerge.objects.create(
        survivor=survivor,
        loser_customer_number=loser.customer_number,
        loser_name=loser.full_name,
        moved=moved,
        filled_fields=filled,
        merged_by=by if by is not None and by.is_authenticated else None,
    )
    loser.delete()
    if loser_user is not None:
        survivor.user = loser_user
        filled.append("user")
    _refresh_hashes(survivor)
    survivor.save()
    timeline_record(
        customer=survivor,
        kind="customer.merged",
        message=gettext_noop("Merged with duplicate record %(customer_number)s"),
        params={"customer_number": record.loser_customer_number},
        data={"moved": moved, "filled": filled},
        actor=by,
    )
    events.send_after_commit(
        events.customer_merged, sender=Customer, survivor_id=survivor.pk, loser_id=loser_id, merge_id=record.pk
    )
    return record


@transaction.atomic
def customer_pair_mark_distinct(*, a: Customer, b: Customer, by: User | None = None) -> DistinctCustomerPair:
    """Two records the duplicate review proposed are two people: the review proposes them no more.
    Marking a pair already marked changes nothing."""
    if a.pk == b.pk:
        raise ApplicationError(_("Pick two different customers."), code="same_customer")
    older, newer = sorted((a, b), key=lambda c: c.pk)
    # Locked in primary-key order, as a merge locks them: a pair is not marked while it is being merged.
    locked = list(Customer.objects.select_for_update().filter(pk__in=[older.pk, newer.pk]).order_by("pk"))
    if len(locked) != 2:
        raise Conflict(_("One of these customers no longer exists (already merged?)."), code="gone")
    existing = DistinctCustomerPair.objects.filter(older=older, newer=newer, undone_at__isnull=True).first()
    if existing is not None:
        return existing
    return DistinctCustomerPair.objects.create(
        older=older, newer=newer, marked_by=by if by is not None and by.is_authenticated else None
    )


@transaction.atomic
def customer_pair_undo_distinct(*, pair_id: int, by: User | None = None) -> DistinctCustomerPair:
    """Put a pair marked "not a duplicate" back in the review; the mark stays on record as undone."""
    pair = DistinctCustomerPair.objects.select_for_update().filter(pk=pair_id).first()
    if pair is None:
        raise NotFound(_("No such pair."))
    if pair.undone_at is not None:
        raise Conflict(_("This pair is already back in the review."), code="already_undone")
    pair.undone_at = timezone.now()
    pair.undone_by = by if by is not None and by.is_authenticated else None
    pair.save(update_fields=["undone_at", "undone_by"])
    return pair


def customer_export(*, customer: Customer) -> dict[str, Any]:
    """Everything every app holds about the customer, as one JSON-ready document."""
    return {
        "customer_number": customer.customer_number,
        "exported_at": timezone.now().isoformat(),
        **registry.export(customer),
    }


@transaction.atomic
def customer_erase(*, customer: Customer, by: User | None = None) -> Customer:
    """Right to erasure: anonymize everywhere, keep what the airline must keep, close the login."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.is_anonymized:
        return customer
    with disable_auditlog():
        registry.erase(customer)
        LogEntry.objects.get_for_object(customer).update(changes={}, changes_text="", object_repr=customer.customer_number)
    events.send_after_commit(events.customer_erased, sender=Customer, customer_id=customer.pk)
    return customer


def customer_profile_erase(customer: Customer) -> None:
    """crm's own eraser: blank the profile, drop the timeline, close the login."""
    user = customer.user
    for field in EDITABLE_FIELDS:
        model_field = Customer._meta.get_field(field)
        if field in ("given_name", "family_name"):
            setattr(customer, field, _("Erased"))
        elif model_field.null:
            setattr(customer, field, None)
        else:
            default = model_field.get_default()
            setattr(customer, field, default if default is not None else "")
    customer.national_id_hash = ""
    customer.passport_hash = ""
    customer.anonymized_at = timezone.now()
    customer.user = None
    customer.save()
    customer.timeline.all().delete()
    # Copies of the address in outgoing mail and login-attempt records are personal data too.
    addresses = {a for a in (user.email if user else "", user.username if user else "") if a}
    OutboundEmail.objects.filter(customer=customer).update(to="", context={}, customer=None)
    if addresses:
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        OutboundEmail.objects.filter(to__in=addresses).update(to="", context={})
        for model in (AccessAttempt, AccessFailureLog, AccessLog):
            model.objects.filter(username__in=addresses).delete()
        # auditlog keeps the acting login's address beside each change the passenger made themselves.
        LogEntry.objects.filter(actor_email__in=addresses).update(actor_email="")
    for lead in customer.leads.all():
        lead.given_name, lead.family_name, lead.email, lead.phone, lead.company, lead.interest = (
            _("Erased"), "", "", "", "", ""
        )  # fmt: skip
        lead.save(update_fields=["given_name", "family_name", "email", "phone", "company", "interest"])
    if user is not None:
        user.username = f"erased-{customer.customer_number.lower()}"
        user.email = ""
        user.first_name = ""
        user.last_name = ""
        user.is_active = False
        user.set_unusable_password()
        user.save()
        Token.objects.filter(user=user).delete()


# --- E-mail ---------------------------------------------------------------------------------

EMAIL_MAX_ATTEMPTS = 5
# Where a queued e-mail keeps its attachment requests (templates cannot see names starting with "_").
ATTACHMENTS_KEY = "_attachments"


def email_language(*, customer: Customer | None = None, fallback: str = "") -> str:
    """The language a passenger's e-mail is written in: their preferred one when the portal speaks it,
    else ``fallback`` (the language they booked or browsed in) when it does, else the portal's default."""
    codes = {code.lower(): code for code, _name in settings.LANGUAGES}
    for wanted in ((customer.preferred_language if customer is not None else ""), fallback):
        code = codes.get((wanted or "").strip().lower())
        if code:
            return code
    return settings.LANGUAGE_CODE


def email_queue(
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    language: str = "en",
    customer: Customer | None = None,
    attachments: list[tuple[str, dict[str, Any]]] | None = None,
) -> OutboundEmail:
    """Record the e-mail, then hand it to a worker once the surrounding transaction commits.

    ``attachments`` are (builder name, parameters) pairs from ``crm.registry.register_attachment``;
    the files are built at sending time, so the database keeps no copy of them.
    """
    language = email_language(fallback=language)
    if attachments:
        context = {**context, ATTACHMENTS_KEY: [{"builder": name, "params": params} for name, params in attachments]}
    email = OutboundEmail.objects.create(to=to, template=template, context=context, language=language, customer=customer)
    task_enqueue_on_commit("crm.tasks.send_email", email_id=email.pk)
    return email


# The first key of the advisory locks that keep two workers from sending one e-mail at once.
EMAIL_SEND_LOCK = 7201


@contextlib.contextmanager
def _email_claim(email_id: int) -> Iterator[bool]:
    """A session-level advisory lock on the e-mail: no transaction (and no row lock) stays open during SMTP."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [EMAIL_SEND_LOCK, email_id])
        claimed = cursor.fetchone()[0]
    try:
        yield claimed
    finally:
        if claimed:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [EMAIL_SEND_LOCK, email_id])


def email_send(*, email_id: int) -> OutboundEmail | None:
    """Send one recorded e-mail; safe to run twice (a sent message is never sent again).

    The SMTP conversation happens with no transaction open; the advisory lock is what stops a second
    worker (a redelivered task, the sweep) from sending the same message meanwhile.
    """
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string

    with _email_claim(email_id) as claimed:
        email = OutboundEmail.objects.filter(pk=email_id).first()
        if not claimed or email is None or email.status != OutboundEmail.Status.PENDING:
            return email
        context = {**email.context, "site_url": settings.SITE_URL, "airline_name": settings.AIRLINE_NAME}
        wanted = context.pop(ATTACHMENTS_KEY, [])
        with translation.override(email_language(fallback=email.language)):
            subject = " ".join(render_to_string(f"emails/{email.template}_subject.txt", context).split())
            text = render_to_string(f"emails/{email.template}.txt", context)
            html = render_to_string(f"emails/{email.template}.html", context)
            files = [registry.attachment_build(item["builder"], item.get("params") or {}) for item in wanted]
        message = EmailMultiAlternatives(subject=subject, body=text, to=[email.to])
        message.attach_alternative(html, "text/html")
        for file in files:
            message.attach(file.filename, file.content, file.mimetype)
        email.attempts += 1
        try:
            message.send()
        except Exception as exc:
            # Recorded, then raised: the attempt and its error stay for the retry and the sweep.
            email.last_error = f"{exc.__class__.__name__}: {exc}"[:300]
            if email.attempts >= EMAIL_MAX_ATTEMPTS:
                email.status = OutboundEmail.Status.FAILED
            email.save(update_fields=["attempts", "last_error", "status"])
            raise
        email.status = OutboundEmail.Status.SENT
        email.sent_at = timezone.now()
        email.context = {}
        email.save(update_fields=["status", "sent_at", "context", "attempts"])
    return email


def email_sweep_pending(*, older_than_seconds: int = 120) -> int:
    """Re-enqueue pending e-mails whose task was lost (broker restart, worker killed)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    ids = list(
        OutboundEmail.objects.filter(status=OutboundEmail.Status.PENDING, created_at__lt=cutoff, attempts__lt=EMAIL_MAX_ATTEMPTS)
        .order_by("created_at")
        .values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        task_enqueue("crm.tasks.send_email", email_id=pk)
    return len(ids)


# --- E-mails about a portal login: address verification, "you already have an account", password reset ---


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """One-time links that prove an address: verifying sets email_verified_at, which voids the token."""

    # The salt keeps the name of the module it was first defined in, so links already sent keep working.
    key_salt = "crm.views.portal.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{user.pk}{user.email}{user.email_verified_at}{user.is_active}{timestamp}"


email_verification_token = EmailVerificationTokenGenerator()


def _login_customer(user: User) -> Customer | None:
    try:
        return selectors.customer_get_for_user(user=user)
    except NotFound:
        return None


def _login_mail_language(customer: Customer | None) -> str:
    """The customer's own language when the portal offers it, else the language of the page that asked."""
    return email_language(customer=customer, fallback=translation.get_language() or "")


def _login_email_queue(*, user: User, template: str, context: dict[str, Any]) -> OutboundEmail:
    customer = _login_customer(user)
    return email_queue(
        to=user.email,
        template=template,
        context={"given_name": customer.given_name if customer else user.first_name, **context},
        language=_login_mail_language(customer),
        customer=customer,
    )


def passenger_verification_email_queue(*, user: User) -> OutboundEmail:
    """The link that proves the login's address; opening it also asks for the password (see verify_email)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    path = reverse("portal:verify_email", kwargs={"uidb64": uid, "token": email_verification_token.make_token(user)})
    return _login_email_queue(
        user=user,
        template="crm/verify_email",
        context={"verify_path": path, "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)},
    )


def passenger_account_exists_email_queue(*, user: User) -> OutboundEmail:
    """Someone signed up with an address that has an account: its owner hears of it, not the person at the form."""
    return _login_email_queue(
        user=user,
        template="crm/account_exists",
        context={"login_path": reverse("portal:login"), "reset_path": reverse("portal:password_reset")},
    )


def passenger_password_reset_email_queue(*, user: User, uidb64: str, token: str) -> OutboundEmail:
    """The password reset link Django's reset form made, sent like every other e-mail: recorded, then by a worker."""
    path = reverse("portal:password_reset_confirm", kwargs={"uidb64": uidb64, "token": token})
    return _login_email_queue(
        user=user,
        template="crm/password_reset",
        context={"reset_path": path, "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)},
    )
