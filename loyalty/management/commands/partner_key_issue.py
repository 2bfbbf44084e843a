"""Issue a partner a new API key (the previous one stops working) and print it, once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty import services
from loyalty.models import Partner


class Command(BaseCommand):
    help = "Issue a new API key for a partner; the old key stops working at once. The key is printed only now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="The partner's code")

    def handle(self, *args: Any, **options: Any) -> None:
        partner = Partner.objects.filter(code=options["code"]).first()
        if partner is None:
            raise CommandError(f"No partner has the code {options['code']!r}.")
        key = services.partner_key_issue(partner=partner)
        self.stdout.write(f"New API key for {partner.code} (the previous one no longer works):")
        self.stdout.write(key)
