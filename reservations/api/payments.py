"""Charges, payments and refunds of a booking, and the payment input."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from reservations.api.common import FieldsBuiltOnce, StrictSerializer
from reservations.models import (
    BookingCharge,
    Payment,
    PaymentMethod,
    Refund,
)


class ChargeSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    passenger = serializers.IntegerField(source="passenger.sequence", read_only=True, allow_null=True)
    segment = serializers.SerializerMethodField(help_text="Segment sequence, if the charge is for one flight.")

    class Meta:
        model = BookingCharge
        fields = ("kind", "code", "description", "passenger", "segment", "amount", "currency", "reason", "created_at")
        read_only_fields = fields

    def get_segment(self, charge: BookingCharge) -> int | None:
        if charge.segment_id is None:
            return None
        return next((s.sequence for s in charge.booking.segments.all() if s.pk == charge.segment_id), None)


class PaymentSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """A payment as the client may see it: card brand and last four digits, never more."""

    voucher_code = serializers.CharField(source="voucher.code", read_only=True, allow_null=True)

    class Meta:
        model = Payment
        fields = (
            "id", "method", "status", "amount", "currency", "card_brand", "card_last4", "voucher_code", "miles",
            "decline_reason", "created_at",
        )  # fmt: skip
        read_only_fields = fields


class RefundSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    payment = serializers.IntegerField(source="payment_id", read_only=True)

    class Meta:
        model = Refund
        fields = ("id", "payment", "amount", "currency", "status", "reason", "created_at", "completed_at")
        read_only_fields = fields


class CardInputSerializer(StrictSerializer):
    number = serializers.RegexField(r"^[0-9 ]{12,23}$", max_length=23, help_text="Used once for the charge; never stored.")
    expiry_month = serializers.IntegerField(min_value=1, max_value=12)
    expiry_year = serializers.IntegerField(min_value=2000, max_value=2199)
    cvv = serializers.RegexField(r"^[0-9]{3,4}$", max_length=4, style={"input_type": "password"})
    holder = serializers.CharField(max_length=100)


IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,64}$")


class PaymentInputSerializer(StrictSerializer):
    method = serializers.ChoiceField(choices=PaymentMethod.choices, help_text="`counter` is for staff only.")
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=False, help_text="Default: the balance due."
    )
    card = CardInputSerializer(required=False, help_text="For `card`.")
    voucher_code = serializers.CharField(max_length=16, required=False, allow_blank=True, help_text="For `voucher`.")
    idempotency_key = serializers.RegexField(
        IDEMPOTENCY_KEY.pattern,
        required=False,
        help_text="Or the `Idempotency-Key` header: 1-64 visible ASCII characters, new for each payment you mean.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["method"] == PaymentMethod.CARD and "card" not in attrs:
            raise serializers.ValidationError({"card": [_("Enter the card details.")]})
        if attrs["method"] == PaymentMethod.VOUCHER and not attrs.get("voucher_code"):
            raise serializers.ValidationError({"voucher_code": [_("Enter the voucher code.")]})
        return attrs


class CardPaymentInputSerializer(PaymentInputSerializer):
    method = serializers.ChoiceField(choices=[PaymentMethod.CARD])
    card = CardInputSerializer(help_text="Used once for the charge; never stored.")


class VoucherPaymentInputSerializer(PaymentInputSerializer):
    method = serializers.ChoiceField(choices=[PaymentMethod.VOUCHER])
    voucher_code = serializers.CharField(max_length=16)


class OtherPaymentInputSerializer(PaymentInputSerializer):
    method = serializers.ChoiceField(
        choices=[PaymentMethod.MILES, PaymentMethod.COUNTER], help_text="`counter` is for staff only."
    )


# What the schema shows of PaymentInputSerializer's rules: a card payment needs `card`, a voucher payment its code.
PAYMENT_INPUT_SCHEMA = PolymorphicProxySerializer(
    component_name="PaymentInput",
    serializers={
        PaymentMethod.CARD.value: CardPaymentInputSerializer,
        PaymentMethod.VOUCHER.value: VoucherPaymentInputSerializer,
        PaymentMethod.MILES.value: OtherPaymentInputSerializer,
        PaymentMethod.COUNTER.value: OtherPaymentInputSerializer,
    },
    resource_type_field_name="method",
)
