"""Create a partner (hotel, car rental) and print its first API key, which is shown only this once."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.errors import ApplicationError
from loyalty import services
from loyalty.models import PartnerKind


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CommandError(f"Not a number: {text!r}") from None


class Command(BaseCommand):
    help = "Create a partner and print its API key (shown once). Issue a new key later with partner_key_issue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="Short code, e.g. harbour-hotels (in the ledger keys and statements)")
        parser.add_argument("name", help="The partner's name as members see it")
        parser.add_argument("--kind", choices=PartnerKind.values, default=PartnerKind.HOTEL)
        parser.add_argument("--price-per-mile", type=_decimal, help="What the partner pays per mile issued")
        parser.add_argument("--currency", default="EUR", help="ISO 4217 currency of the price")
        parser.add_argument("--daily-miles-alert", type=int, help="Flag a member earning more than this in 24 hours")
        parser.add_argument("--no-key", action="store_true", help="Create the partner without issuing a key")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            partner = services.partner_create(
                code=options["code"], name=options["name"], kind=options["kind"], price_per_mile=options["price_per_mile"],
                currency=options["currency"], daily_miles_alert=options["daily_miles_alert"],
            )  # fmt: skip
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stdout.write(f"Created partner {partner.code} ({partner.name}).")
        if not options["no_key"]:
            key = services.partner_key_issue(partner=partner)
            self.stdout.write("API key (shown only now; send it as 'Authorization: Partner <key>'):")
            self.stdout.write(key)
