"""Where downstream apps take part in reservations' rules without reservations knowing them.

One registry per kind of hook. An app registers its hooks in its ``AppConfig.ready()``; reservations
calls every registered hook of a kind at the point the rule is applied. Registering the same name
twice is an error, so two apps cannot silently replace each other's hook.

Traveller benefits (``traveller_benefits``): what a traveller is entitled to beyond their fare, e.g.
loyalty's tier gives a Gold member an extra free bag, priority boarding and the lounge. A hook is
``(*, passenger, booking) -> TravellerBenefits | None`` and reads only; ``traveller_benefits_for``
(``traveller_benefits_for_many`` for several travellers of a booking) combines every hook (the most extra bags any grants, a flag if any grants it). Check-in adds the extra
bags to the fare's free pieces; the boarding pass shows priority and lounge access with the label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from crm.errors import ApplicationError

if TYPE_CHECKING:
    from django.http import HttpRequest

    from crm.models import Customer
    from crm.registry import Panel
    from reservations.models import Booking, BookingPassenger

if TYPE_CHECKING:
    from crm.models import User
    from reservations.models import Booking, Payment

T = TypeVar("T")


class Hooks(Generic[T]):
    """The hooks of one kind, by name, called in the order they were registered."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._hooks: dict[str, T] = {}

    def register(self, name: str, hook: T) -> T:
        if name in self._hooks:
            raise ImproperlyConfigured(f"A {self.kind} hook named {name!r} is already registered.")
        self._hooks[name] = hook
        return hook

    def unregister(self, name: str) -> None:
        self._hooks.pop(name, None)

    def get(self, name: str) -> T | None:
        return self._hooks.get(name)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._hooks.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._hooks

    def names(self) -> list[str]:
        return list(self._hooks)


# --- Payment methods ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodPayment:
    """What a payment method took for one payment; kept on the payment row."""

    reference: str = ""  # the method's own reference (a ledger entry, a voucher), shown to agents
    miles: int | None = None  # for a method that pays with miles: how many were debited
    voucher_id: int | None = None  # for a travel voucher: which one


@dataclass(frozen=True)
class MethodRefund:
    """Whether the money went back to where it came from, and the method's reference for it."""

    succeeded: bool
    reference: str = ""


@dataclass(frozen=True)
class MethodOffer:
    """What a payment method offers one payer on the portal's payment page, read only.

    ``amount`` is the money it would pay (e.g. the fares, not the taxes), ``summary`` what the payer
    reads about it ("25,000 miles; your balance is 40,000 miles"); ``available`` False shows it greyed
    out with ``summary`` saying why.
    """

    amount: Decimal
    summary: str
    available: bool = True


@dataclass(frozen=True)
class MethodRefundPreview:
    """What a refund to a payment made with the method would give back, as a cancellation quote shows it.

    ``summary`` is what the payer reads ("7,500 miles go back to your miles account"); ``miles`` is how
    many miles, for a method that pays with miles.
    """

    summary: str
    miles: int | None = None


class PaymentMethodHook(Protocol):
    """A way to pay that settles in this database: travel vouchers (reservations), miles (loyalty).

    Registered under its ``code`` (a ``reservations.models.PaymentMethod`` value); ``label`` is what a
    payer reads. Card payments are not hooks: they go through the gateway, recorded as pending first.

    ``pay`` and ``refund`` run inside the transaction that holds the booking's row lock, so they must not
    call the network; they are all-or-nothing with the payment row. ``pay`` refuses by raising
    ``crm.errors.ApplicationError`` (naming the ``details`` field at fault), and nothing is recorded.
    ``reference`` is unique to the payment: a ledger uses it as its idempotency key. ``details`` is the
    method's own input (e.g. ``{"voucher_code": ...}``).

    Two methods are optional (reservations looks them up with ``getattr``):

    - ``payable(*, booking, details) -> Decimal``: the most this method pays on the booking (e.g. miles
      pay the fares, taxes are paid by card). Without an ``amount``, ``payment_take`` takes this much
      (capped at the balance due) instead of the whole balance; a larger ``amount`` is refused. It may
      raise ``ApplicationError`` when the method cannot pay anything on this booking.
    - ``offer(*, booking, user) -> MethodOffer | None``: what the portal's payment page shows this payer
      for the method (None: not offered there). Reads only.
    - ``refund_preview(*, payment, amount) -> MethodRefundPreview | None``: what refunding ``amount`` of
      ``payment`` would give back, in the payer's words; a cancellation quote shows it beside the refund.
      Reads only.

    And one optional flag, ``redeposit_on_cancel`` (False unless set): a payment made with the method pays
    for the fares as an award does (miles), and a voluntary cancellation gives back all of what it paid for
    the cancelled flights, whatever the fare's refund rules; the fare family's cancellation fee is then
    taken from the money refunded in cash (the taxes), never more than that. ``booking_cancel_plan``
    honours it; an involuntary cancellation or one before ticketing gives everything back anyway.
    """

    code: str
    label: str

    def pay(
        self, *, booking: Booking, amount: Decimal, currency: str, reference: str, details: Mapping[str, str], by: User | None
    ) -> MethodPayment: ...

    def refund(self, *, payment: Payment, amount: Decimal, reference: str) -> MethodRefund: ...


payment_methods: Hooks[PaymentMethodHook] = Hooks("payment method")


def payment_offers(*, booking: Booking, user: User | None) -> list[tuple[str, str, MethodOffer]]:
    """(code, label, offer) of every registered method that offers itself to this payer on the portal."""
    offers = []
    for code in payment_methods.names():
        hook = payment_methods.get(code)
        offer_fn = getattr(hook, "offer", None)
        offer = offer_fn(booking=booking, user=user) if offer_fn is not None else None
        if offer is not None:
            offers.append((code, str(hook.label), offer))
    return offers


# --- Discounts at pricing -------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceLine:
    """One fare line of the booking being priced: what one passenger pays for one flight, before tax."""

    passenger_sequence: int
    passenger_type: str
    segment_sequence: int
    flight_id: int
    cabin: str
    fare_family: str
    amount: Decimal


@dataclass(frozen=True)
class BookingDraft:
    """The booking as priced, before it is saved: what a discount hook decides on. No rows exist yet."""

    channel: str
    currency: str
    first_day: date
    fare_lines: tuple[PriceLine, ...]
    taxes_total: Decimal
    customer: Customer | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def fare_total(self) -> Decimal:
        return sum((line.amount for line in self.fare_lines), Decimal(0))


@dataclass(frozen=True)
class Discount:
    """What a hook grants for a code: ``amount`` off the fares (at most the fare total).

    reservations spreads it over the fare lines as negative ``discount`` charges. A code worth something
    other than money (bonus miles) grants 0: one zero ``discount`` line then records the code and its
    ``description`` ("Bonus miles: 1,000") on the booking. ``data`` is the hook's own, handed back to its
    ``redeem``.
    """

    code: str
    description: str
    amount: Decimal
    data: dict[str, Any] = field(default_factory=dict)  # the hook's own, e.g. the promo code's id


class DiscountHook(Protocol):
    """A kind of discount code (e.g. marketing's promo codes), registered as ``discounts.register(name, hook)``.

    ``apply`` reads only: it returns None for a code that is not its own, raises ``ApplicationError``
    for its own code that cannot be used here (expired, used up, wrong route...), and is what a price
    preview calls. ``redeem`` runs inside ``booking_create``'s transaction once the booking exists: it
    locks and consumes the code, so a single-use code is used exactly once (a rollback undoes it).
    ``release`` gives the code back when the booking lapses unpaid or is cancelled before ticketing.
    """

    def apply(self, *, code: str, draft: BookingDraft) -> Discount | None: ...

    def redeem(self, *, discount: Discount, booking: Booking) -> None: ...

    def release(self, *, code: str, booking: Booking) -> None: ...


discounts: Hooks[DiscountHook] = Hooks("discount")

DISCOUNT_CODE_MAX = 20


def discount_code_clean(code: str) -> str:
    """Codes are compared without case or surrounding blanks."""
    return "".join((code or "").split()).upper()


def discount_apply(*, code: str, draft: BookingDraft) -> tuple[str, Discount]:
    """The first registered hook that knows ``code``, and what it grants; a code nobody knows is refused.

    Reads only, so a quote or preview may call it freely.
    """
    code = discount_code_clean(code)
    if len(code) > DISCOUNT_CODE_MAX:
        message = _("A discount code has at most %(max)d characters.") % {"max": DISCOUNT_CODE_MAX}
        raise ApplicationError(message, code="invalid_discount_code", fields={"discount_code": [message]})
    for name in discounts.names():
        discount = discounts.get(name).apply(code=code, draft=draft)
        if discount is None:
            continue
        if discount.amount < 0:
            raise ImproperlyConfigured(f"The {name!r} discount hook granted {discount.amount}; a discount is never negative.")
        # Never more than the fares: taxes are owed whatever the promotion.
        return name, replace(discount, amount=min(discount.amount, draft.fare_total))
    message = _("Unknown discount code.")
    raise ApplicationError(message, code="unknown_discount_code", fields={"discount_code": [message]})


def discounts_release(*, booking: Booking) -> None:
    """Offer each code the booking used back to every hook; each hook releases only its own codes.

    Called when a hold lapses unpaid or a booking is cancelled before it was ticketed.
    """
    from reservations.models import ChargeKind

    if not discounts.names():
        return
    codes = sorted(set(booking.charges.filter(kind=ChargeKind.DISCOUNT).values_list("code", flat=True)))
    for code in codes:
        for hook in discounts:
            hook.release(code=code, booking=booking)


# --- Passenger checks at booking, on a traveller's change and at check-in ----------------------------


BOOKING, TRAVELLER_UPDATE, CHECK_IN = "booking", "traveller_update", "check_in"


class PassengerCheck(Protocol):
    """A rule about one traveller (e.g. loyalty: the frequent flyer number exists and matches the name).

    Called for every passenger when a booking is created (``stage="booking"``, inside its transaction,
    the passenger row saved), for a traveller whose details change on an existing booking
    (``stage="traveller_update"``: the row carries the new values, locked and not yet saved) and at
    check-in (``stage="check_in"``). Refuses by raising ``ApplicationError`` whose ``fields`` name the
    passenger's own fields (``frequent_flyer_number``); reservations puts them on that passenger
    (``passengers.2.frequent_flyer_number``) and, on a change, saves nothing.
    """

    def __call__(self, *, passenger: BookingPassenger, booking: Booking, stage: str) -> None: ...


passenger_checks: Hooks[PassengerCheck] = Hooks("passenger check")


def passengers_check(*, passengers: list[tuple[str, BookingPassenger]], booking: Booking, stage: str) -> None:
    """Run every check on every passenger; all refusals come back together, each under its passenger's key.

    ``passengers`` pairs each traveller with the key their fields go under (``passengers.1``).
    """
    errors: dict[str, list[str]] = {}
    first: ApplicationError | None = None
    for key, passenger in passengers:
        for check in passenger_checks:
            try:
                check(passenger=passenger, booking=booking, stage=stage)
            except ApplicationError as refused:
                first = first or refused
                for name, messages in (refused.fields or {"": [refused.message]}).items():
                    errors.setdefault(f"{key}.{name}" if name else key, []).extend(messages)
    if first is not None:
        raise ApplicationError(
            first.message if len(errors) == 1 else _("Please check the travellers' details."),
            code=first.code if len(errors) == 1 else "passenger_refused",
            fields=errors,
        )


# --- Options at booking ---------------------------------------------------------------------------


class BookingOption(Protocol):
    """A tick box a downstream app adds to the portal's booking form (e.g. loyalty: join and earn miles).

    Registered as ``booking_options.register(name, hook)``; the form field is ``option_<name>``.
    ``label_for(*, customer)`` is what the booker reads, or None when the option is not offered to this
    booker (then it is neither shown nor applied). ``apply(*, booking, customer, by)`` runs inside
    ``booking_create``'s transaction once the booking, its passengers and its checks are done, for each
    option the booker ticked and is offered; raising ``ApplicationError`` refuses the booking. An option
    left unticked costs the booking nothing, not even the question whether it is offered.

    The API's booking create takes the same options by name (``"options": {"<name>": true}``); an optional
    ``description`` attribute (lazy text) says what the option does in the OpenAPI schema.

    An optional ``offered(*, customer) -> bool`` answers whether the option is offered without building its
    label (which may read more, e.g. the programme's name): ``booking_create`` asks it of every ticked
    option, so it should cost no more than the check itself. Without it, ``label_for`` is asked.
    """

    def label_for(self, *, customer: Customer | None) -> str | None: ...

    def apply(self, *, booking: Booking, customer: Customer | None, by: User | None) -> None: ...


booking_options: Hooks[BookingOption] = Hooks("booking option")


def booking_options_for(*, customer: Customer | None) -> list[tuple[str, str]]:
    """(name, label) of every option offered to this booker, in registration order."""
    offered = []
    for name in booking_options.names():
        label = booking_options.get(name).label_for(customer=customer)
        if label:
            offered.append((name, str(label)))
    return offered


def booking_options_unknown(*, names: Iterable[str]) -> ApplicationError | None:
    """Why ``names`` cannot be ticked (some are no registered option), or None: a typo is not a silent no-op."""
    unknown = sorted(set(names) - set(booking_options.names()))
    if not unknown:
        return None
    message = _("Unknown booking option.")
    return ApplicationError(message, code="unknown_booking_option", fields={f"options.{name}": [message] for name in unknown})


def booking_options_documented() -> str:
    """The registered options' names and what each does, for the API schema (read when the schema is built)."""
    described = [f"`{name}`: {getattr(booking_options.get(name), 'description', '') or name}" for name in booking_options.names()]
    return "; ".join(described) if described else str(_("none at present"))


def _offered(option: BookingOption, customer: Customer | None) -> bool:
    offered = getattr(option, "offered", None)
    return bool(offered(customer=customer) if offered is not None else option.label_for(customer=customer))


def booking_options_apply(*, booking: Booking, customer: Customer | None, ticked: Mapping[str, bool], by: User | None) -> None:
    """Hand each ticked option that is offered to the booker the new booking.

    Most bookings tick nothing and pass straight through; for a ticked option, ``offered`` is asked rather
    than its label built (a name ticked but not offered to this booker is left alone).
    """
    for name in booking_options.names():
        if not ticked.get(name):
            continue
        option = booking_options.get(name)
        if _offered(option, customer):
            option.apply(booking=booking, customer=customer, by=by)


# --- What a customer's traveller form is filled with ---------------------------------------------


class TravellerDefaults(Protocol):
    """Registered as ``traveller_defaults.register(name, hook)``: a downstream app's own fields of a
    customer as a traveller (loyalty: ``{"frequent_flyer_number": ...}`` for a member), read only.

    Booking forms put them in the customer's own traveller before the booker sees it, so a member books
    with their number without typing it; what the booker types instead is what counts.
    """

    def __call__(self, *, customer: Customer) -> Mapping[str, str]: ...


traveller_defaults: Hooks[TravellerDefaults] = Hooks("traveller defaults")


def traveller_defaults_for(*, customer: Customer) -> dict[str, str]:
    """Every registered app's defaults for this customer as a traveller, later registrations winning."""
    found: dict[str, str] = {}
    for hook in traveller_defaults:
        found.update(hook(customer=customer) or {})
    return found


# --- Traveller benefits at check-in and boarding ---------------------------------------------------


@dataclass(frozen=True)
class TravellerBenefits:
    """What a traveller gets beyond their fare: ``extra_bags`` free checked bags on top of the fare's,
    ``priority`` boarding, ``lounge`` access; ``label`` names why (a tier: "Gold"), shown on the pass."""

    extra_bags: int = 0
    priority: bool = False
    lounge: bool = False
    label: str = ""


class TravellerBenefitsHook(Protocol):
    """Registered as ``traveller_benefits.register(name, hook)``; reads only (None: nothing to grant).

    Optional ``many(*, passengers, booking) -> {passenger id: TravellerBenefits | None}`` answers for
    several travellers of one booking at once, so a page of boarding passes costs the same queries for
    one traveller or nine; without it the hook is called once per traveller.
    """

    def __call__(self, *, passenger: BookingPassenger, booking: Booking) -> TravellerBenefits | None: ...


traveller_benefits: Hooks[TravellerBenefitsHook] = Hooks("traveller benefits")

NO_BENEFITS = TravellerBenefits()


def _benefits_combined(granted: list[TravellerBenefits]) -> TravellerBenefits:
    """The most extra bags any hook grants, a flag if any grants it, the labels named once each."""
    if not granted:
        return NO_BENEFITS
    labels = [str(b.label) for b in granted if b.label]
    return TravellerBenefits(
        extra_bags=max(max(b.extra_bags for b in granted), 0),
        priority=any(b.priority for b in granted),
        lounge=any(b.lounge for b in granted),
        label=", ".join(dict.fromkeys(labels)),
    )


def traveller_benefits_for_many(*, passengers: Iterable[BookingPassenger], booking: Booking) -> dict[int, TravellerBenefits]:
    """Every hook's benefits for each of these travellers of ``booking``, combined, by passenger id."""
    passengers = list(passengers)
    granted: dict[int, list[TravellerBenefits]] = {p.pk: [] for p in passengers}
    for hook in traveller_benefits:
        many = getattr(hook, "many", None)
        if many is not None:
            answers = many(passengers=passengers, booking=booking)
        else:
            answers = {p.pk: hook(passenger=p, booking=booking) for p in passengers}
        for pk, benefits in answers.items():
            if benefits is not None and pk in granted:
                granted[pk].append(benefits)
    return {pk: _benefits_combined(found) for pk, found in granted.items()}


def traveller_benefits_for(*, passenger: BookingPassenger, booking: Booking) -> TravellerBenefits:
    """Every hook's benefits for this traveller, combined: the most extra bags, any flag granted, the labels."""
    return traveller_benefits_for_many(passengers=[passenger], booking=booking)[passenger.pk]


# --- Booking page panels --------------------------------------------------------------------------
# The office booking page, like the customer 360, shows what downstream apps hold about the booking
# (support's cases, loyalty's miles). The booking is reservations' own, so its panels are registered
# here, not in crm's customer registry; they share crm's Panel and its "a failing panel is logged and
# left out" rendering.


BookingPanelFn = Callable[["HttpRequest", "Booking"], "Panel | None"]

booking_panels: Hooks[BookingPanelFn] = Hooks("booking panel")


def booking_panels_for(request: HttpRequest, booking: Booking) -> list[Panel]:
    from crm.registry import panels_collect

    def builder(name: str) -> Callable[[], Panel | None]:
        return lambda: booking_panels.get(name)(request, booking)

    return panels_collect((name, builder(name)) for name in booking_panels.names())
