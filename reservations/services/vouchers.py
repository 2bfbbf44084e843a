"""Travel vouchers as a payment method: reservations' own hook, registered like loyalty's miles."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.errors import ApplicationError
from crm.models import User
from reservations.hooks import MethodPayment, MethodRefund
from reservations.models import Booking, Payment, PaymentMethod, TravelVoucher


class VoucherPayments:
    """Pays from a travel voucher's balance and puts refunds back on it.

    Both are conditional UPDATEs, so two payments cannot spend the same balance twice and a refund can
    never lift a voucher above its value; they run in the payment's transaction (no network involved).
    """

    code = PaymentMethod.VOUCHER.value
    label = gettext_lazy("Travel voucher")

    def pay(
        self, *, booking: Booking, amount: Decimal, currency: str, reference: str, details: Mapping[str, str], by: User | None
    ) -> MethodPayment:
        code = (details.get("voucher_code") or "").strip()
        wrong = {"voucher_code": [_("No valid voucher with this code.")]}
        voucher = TravelVoucher.objects.filter(code__iexact=code).first() if code else None
        if voucher is None:
            raise ApplicationError(_("No valid voucher with this code."), code="voucher_invalid", fields=wrong)
        if voucher.expires_on < timezone.localdate():
            message = _("This voucher expired on %(date)s.") % {"date": voucher.expires_on.isoformat()}
            raise ApplicationError(message, code="voucher_invalid", fields={"voucher_code": [message]})
        if voucher.currency != currency:
            message = _("This voucher is in %(voucher)s; the booking is priced in %(booking)s.") % {
                "voucher": voucher.currency,
                "booking": currency,
            }
            raise ApplicationError(message, code="voucher_invalid", fields={"voucher_code": [message]})
        if not TravelVoucher.objects.filter(pk=voucher.pk, balance__gte=amount).update(balance=F("balance") - amount):
            voucher.refresh_from_db(fields=["balance"])
            message = _("The voucher has %(balance)s %(currency)s left, less than %(amount)s %(currency)s.") % {
                "balance": voucher.balance,
                "amount": amount,
                "currency": currency,
            }
            raise ApplicationError(message, code="voucher_insufficient", fields={"voucher_code": [message]})
        return MethodPayment(reference=f"voucher:{voucher.pk}", voucher_id=voucher.pk)

    def refund(self, *, payment: Payment, amount: Decimal, reference: str) -> MethodRefund:
        if payment.voucher_id is None:
            return MethodRefund(succeeded=False)
        credited = TravelVoucher.objects.filter(pk=payment.voucher_id, balance__lte=F("initial_amount") - amount).update(
            balance=F("balance") + amount
        )
        return MethodRefund(succeeded=bool(credited), reference=f"voucher:{payment.voucher_id}")
