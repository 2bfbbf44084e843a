"""loyalty's parts in reservations' rules, registered from ``LoyaltyConfig.ready()``.

- ``MilesPayments``: miles as a payment method (award tickets and upgrades).
- ``frequent_flyer_check``: a frequent flyer number typed for a traveller, at booking, when it is added or
  corrected on an existing booking, and at check-in.
- ``EnrolAtBooking``: the "join and earn miles on this trip" tick on the portal's booking form.
- ``traveller_defaults``: a member's own traveller on a booking form comes with their number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from crm.errors import ApplicationError
from crm.models import Customer, User
from loyalty import numbers, selectors
from loyalty.models import EnrolmentChannel, Member, MemberStatus, Tier
from loyalty.services import member_join, member_number_check, redemption
from reservations.hooks import MethodOffer, MethodPayment, MethodRefund, MethodRefundPreview, TravellerBenefits
from reservations.models import Booking, BookingPassenger, Payment, PaymentMethod


class MilesPayments:
    """Pays the fares of a booking (or what an upgrade adds) with the booker's miles; taxes stay for the card.

    Runs inside reservations' payment transaction with the booking locked: the ledger debit and the
    payment row commit or roll back together; ``reference`` (the payment's own key) keys the debit.
    """

    code = PaymentMethod.MILES.value
    label = gettext_lazy("Miles")
    # Cancelling an award ticket redeposits all its miles; the fare's fee is kept from the taxes' refund.
    redeposit_on_cancel = True

    def payable(self, *, booking: Booking, details: Mapping[str, str]) -> Decimal:
        redemption.miles_payer(booking=booking)
        return redemption.miles_payable(booking=booking, details=details)

    def pay(
        self, *, booking: Booking, amount: Decimal, currency: str, reference: str, details: Mapping[str, str], by: User | None
    ) -> MethodPayment:
        member = redemption.miles_payer(booking=booking)
        miles, reason, extra = redemption.miles_price(booking=booking, amount=amount, details=details)
        redemption.miles_redeem(
            member=member, miles=miles, reference=reference, booking=booking, reason=reason,
            details={**extra, "amount": str(amount), "currency": currency}, by=by,
        )  # fmt: skip
        return MethodPayment(reference=f"miles:{member.number}", miles=miles)

    def refund(self, *, payment: Payment, amount: Decimal, reference: str) -> MethodRefund:
        credited = redemption.miles_refund(payment=payment, reference=reference)
        return MethodRefund(succeeded=True, reference=f"miles:{credited}")

    def refund_preview(self, *, payment: Payment, amount: Decimal) -> MethodRefundPreview | None:
        """The miles a refund of ``amount`` would give back, as the cancellation quote shows them."""
        miles = redemption.miles_refund_preview(payment=payment, amount=amount)
        if miles <= 0:
            return None
        summary = ngettext(
            "%(miles)s mile goes back to your miles account.", "%(miles)s miles go back to your miles account.", miles
        ) % {"miles": f"{miles:,}"}
        return MethodRefundPreview(summary=summary, miles=miles)

    def offer(self, *, booking: Booking, user: User | None) -> MethodOffer | None:
        """Offered to a member while the fares are still due: the price in miles and the balance to pay it."""
        try:
            member = redemption.miles_payer(booking=booking)
            value = redemption.miles_payable(booking=booking, details={})
            quote = redemption.award_quote(booking=booking)
        except ApplicationError:
            return None
        if value <= 0 or quote.miles <= 0 or booking.balance_due < value:
            return None
        pool = redemption.miles_pool(member=member)
        spendable = sum(m.award_balance for m in pool)
        numbers = {
            "miles": f"{quote.miles:,}",
            "amount": value,
            "currency": booking.currency,
            "balance": f"{spendable:,}",
        }
        summary = _("The fares (%(amount)s %(currency)s) for %(miles)s miles; taxes and fees are paid by card.") % numbers
        if len(pool) > 1:
            summary += " " + _("Your household's pooled balance: %(balance)s miles.") % numbers
        else:
            summary += " " + _("Your balance: %(balance)s miles.") % numbers
        if spendable < quote.miles:
            summary += " " + _("That is not enough for this trip.")
        return MethodOffer(amount=value, summary=summary, available=spendable >= quote.miles)


def frequent_flyer_check(*, passenger: BookingPassenger, booking: Booking, stage: str) -> None:
    """A typed number must pass its check digit, belong to an active member, and carry the traveller's family name.

    The same at every stage (booking, ``traveller_update``, check-in): a number added after booking earns and
    gives benefits exactly as one typed when booking."""
    number = (passenger.frequent_flyer_number or "").strip()
    if number:
        member_number_check(number=number, family_name=passenger.family_name)


def traveller_defaults(*, customer: Customer) -> dict[str, str]:
    """A member's own traveller on a booking form carries their frequent flyer number (one query)."""
    number = Member.objects.filter(customer=customer, status=MemberStatus.ACTIVE).values_list("number", flat=True).first()
    return {"frequent_flyer_number": number} if number else {}


class TierBenefits:
    """A traveller's tier benefits: those of the active member whose number is on their coupon.

    ``many`` answers for a whole party in one query (boarding passes, check-in), so the pages do not
    read more as the party grows.
    """

    def __call__(self, *, passenger: BookingPassenger, booking: Booking) -> TravellerBenefits | None:
        return self.many(passengers=[passenger], booking=booking).get(passenger.pk)

    def many(self, *, passengers: Iterable[BookingPassenger], booking: Booking) -> dict[int, TravellerBenefits | None]:
        wanted = {p.pk: numbers.clean(p.frequent_flyer_number) for p in passengers}
        if not any(wanted.values()):
            return {}
        members = Member.objects.select_related("tier").filter(
            number__in={n for n in wanted.values() if n}, status=MemberStatus.ACTIVE
        )
        tiers = {m.number: m.tier for m in members}
        return {pk: _tier_benefits(tiers[number]) for pk, number in wanted.items() if number in tiers}


def _tier_benefits(tier: Tier) -> TravellerBenefits:
    return TravellerBenefits(
        extra_bags=tier.extra_bags, priority=tier.priority_boarding, lounge=tier.lounge_access, label=tier.name
    )


class EnrolAtBooking:
    """One tick on the booking form makes the booker a member and puts the number on their own traveller.

    The API ticks it as ``"options": {"loyalty_enrol": true}`` on the booking create.
    """

    description = gettext_lazy(
        "join the frequent flyer programme and earn miles on this trip (offered to a booker who is not a member "
        "yet; the new number goes on the booker's own traveller)"
    )

    def offered(self, *, customer: Customer | None) -> bool:
        """To a booker who is not a member yet: one query, without the programme's name the label needs."""
        return customer is not None and not Member.objects.filter(customer=customer).exists()

    def label_for(self, *, customer: Customer | None) -> str | None:
        if not self.offered(customer=customer):
            return None
        return _("Join %(programme)s and earn miles on this trip") % {"programme": selectors.programme().local_name()}

    def apply(self, *, booking: Booking, customer: Customer | None, by: User | None) -> None:
        if customer is None:
            return
        member, _joined = member_join(customer=customer, channel=EnrolmentChannel.BOOKING, by=by)
        if member.status == MemberStatus.ACTIVE:
            booking.passengers.filter(customer=customer, frequent_flyer_number="").update(frequent_flyer_number=member.number)
