"""The JSON shapes of a membership and its statement, for the OpenAPI schema.

Shared by the loyalty API and loyalty's section of the customer 360 API (``loyalty.receivers``), which
answer with the data ``loyalty.account.member_summary`` and ``entry_data`` build.
"""

from __future__ import annotations

from rest_framework import serializers

from loyalty.models import EnrolmentChannel, EntryKind, MemberStatus


class TierProgressSerializer(serializers.Serializer):
    next_tier = serializers.CharField(help_text="Code of the next tier.")
    miles_needed = serializers.IntegerField(
        allow_null=True, help_text="Qualifying miles still needed for it (null: not reachable by miles)."
    )
    segments_needed = serializers.IntegerField(
        allow_null=True, help_text="Flights still needed (null: not reachable by flights)."
    )
    percent = serializers.IntegerField(help_text="The better of the miles and the flights, as a percentage of the way.")


class MembershipSerializer(serializers.Serializer):
    number = serializers.CharField(help_text="Frequent flyer number (10 digits, the last a Luhn check digit).")
    status = serializers.ChoiceField(choices=MemberStatus.choices)
    tier = serializers.CharField(help_text="Tier code (blue, silver, gold, platinum...).")
    tier_name = serializers.CharField()
    tier_since = serializers.DateField()
    tier_valid_until = serializers.DateField(allow_null=True)
    award_balance = serializers.IntegerField(help_text="Award miles that can be spent.")
    qualifying_miles = serializers.IntegerField(help_text="Qualifying miles in the current qualification period.")
    qualifying_segments = serializers.IntegerField(help_text="Flights flown in the current qualification period.")
    lifetime_miles = serializers.IntegerField()
    qualification_start = serializers.DateField()
    enrolled_at = serializers.DateTimeField()
    enrolment_channel = serializers.ChoiceField(choices=EnrolmentChannel.choices)
    progress = TierProgressSerializer(allow_null=True, help_text="Null at the top tier.")


class MilesEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    posted_at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=EntryKind.choices)
    reason = serializers.CharField(help_text="A stable code; `description` says it in the reader's language.")
    description = serializers.CharField()
    award_miles = serializers.IntegerField(help_text="Negative for a debit.")
    qualifying_miles = serializers.IntegerField()
    qualifying_segments = serializers.IntegerField()
    details = serializers.DictField(help_text="The data behind the reason (flight, route, partner...).")


class MilesEntryPageSerializer(serializers.Serializer):
    """One page of a statement, paginated as every list of the API."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MilesEntrySerializer(many=True)


class Customer360LoyaltySerializer(serializers.Serializer):
    member = MembershipSerializer(allow_null=True, help_text="Null: the customer is not a member.")
    latest_entries = MilesEntrySerializer(many=True, help_text="The latest statement lines, newest first.")
