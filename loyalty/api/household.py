"""A passenger's household and transfers, for their own membership only.

Every endpoint acts for the logged-in passenger's own membership (404 ``not_a_member`` without one):
- ``GET /loyalty/household/`` their household (members; balances and the pooled total to the head only)
  and the invitations waiting for them; ``POST`` starts one with them as head.
- ``POST /loyalty/household/invitations/`` (head) invites by frequent flyer number and family name;
  ``DELETE /loyalty/household/invitations/{id}/`` (head) withdraws one; ``POST .../{id}/accept/`` and
  ``.../{id}/decline/`` answer one addressed to them (anyone else's is a 404).
- ``POST /loyalty/household/leave/``; ``DELETE /loyalty/household/members/{number}/`` (head) removes a member.
- ``GET /loyalty/transfers/quote/?miles=`` the fee and the year's allowance; ``POST /loyalty/transfers/``
  sends miles (an optional ``transfer_id`` makes a retried request harmless).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import selectors as crm_selectors
from crm.errors import NotFound
from loyalty import selectors, services
from loyalty.models import HouseholdInvitation, Member
from reservations.api.common import StrictSerializer, error

NOT_A_MEMBER = error("This login has no frequent flyer membership (code `not_a_member`), or no such object of theirs.")
NUMBER_REFUSED = "`invalid_frequent_flyer_number` (check digit), `unknown_frequent_flyer_number`, `frequent_flyer_name_mismatch`"
CONFLICT = error("The household's rules refuse it (e.g. `household_full`, `already_in_household`, `not_household_head`).")


def _own_member(request: Request) -> Member:
    customer = crm_selectors.customer_get_for_user(user=request.user)
    member = selectors.member_for_customer(customer_id=customer.pk)
    if member is None:
        raise NotFound(_("You are not a member of the frequent flyer programme."), code="not_a_member")
    return member


class HouseholdMemberSerializer(serializers.Serializer):
    number = serializers.CharField()
    name = serializers.CharField()
    is_head = serializers.BooleanField()
    award_balance = serializers.IntegerField(allow_null=True, help_text="Shown to the head only.")


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    household_head = serializers.CharField(help_text="The head's frequent flyer number.")
    member = serializers.CharField(help_text="The invited member's frequent flyer number.")
    created_at = serializers.DateTimeField()


class HouseholdSerializer(serializers.Serializer):
    member = serializers.CharField(help_text="Your frequent flyer number.")
    in_household = serializers.BooleanField()
    is_head = serializers.BooleanField()
    head = serializers.CharField(allow_null=True)
    members = HouseholdMemberSerializer(many=True)
    pooled_balance = serializers.IntegerField(
        allow_null=True, help_text="The sum of the members' award miles; the head's to see."
    )
    max_members = serializers.IntegerField()
    invitations_received = InvitationSerializer(many=True)
    invitations_sent = InvitationSerializer(many=True)


def _name(m: Member) -> str:
    return f"{m.customer.given_name} {m.customer.family_name}" if m.customer_id else m.number


def _invitation(i: HouseholdInvitation) -> dict[str, Any]:
    return {"id": i.pk, "household_head": i.household.head.number, "member": i.member.number, "created_at": i.created_at}


def household_data(member: Member) -> dict[str, Any]:
    overview = selectors.household_overview(member=member)
    return {
        "member": overview.member.number,
        "in_household": overview.household_id is not None,
        "is_head": overview.is_head,
        "head": overview.head.number if overview.head else None,
        "members": [
            {
                "number": m.number,
                "name": _name(m),
                "is_head": overview.head is not None and m.pk == overview.head.pk,
                "award_balance": m.award_balance if overview.is_head else None,
            }
            for m in overview.members
        ],
        "pooled_balance": overview.pooled_balance,
        "max_members": selectors.programme().household_max_members,
        "invitations_received": [_invitation(i) for i in overview.invitations_received],
        "invitations_sent": [_invitation(i) for i in overview.invitations_sent],
    }


def _answer(member: Member, code: int = status.HTTP_200_OK) -> Response:
    return Response(HouseholdSerializer(household_data(member)).data, status=code)


class InviteInputSerializer(StrictSerializer):
    frequent_flyer_number = serializers.CharField(max_length=20)
    family_name = serializers.CharField(max_length=100)


class TransferInputSerializer(StrictSerializer):
    frequent_flyer_number = serializers.CharField(max_length=20, help_text="The recipient's number.")
    family_name = serializers.CharField(max_length=100, help_text="The recipient's family name, as on their membership.")
    miles = serializers.IntegerField(min_value=1, max_value=10_000_000)
    transfer_id = serializers.UUIDField(required=False, help_text="Your reference: sending it again returns the same transfer.")


class TransferSerializer(serializers.Serializer):
    transfer_id = serializers.UUIDField()
    recipient = serializers.CharField(source="recipient_number")
    miles = serializers.IntegerField()
    fee = serializers.IntegerField(help_text="In miles, taken from your balance on top of the miles sent.")
    award_balance = serializers.IntegerField(help_text="Your balance after the transfer.")


class TransferQuoteSerializer(serializers.Serializer):
    miles = serializers.IntegerField()
    fee = serializers.IntegerField()
    total = serializers.IntegerField(help_text="Miles sent plus the fee.")
    yearly_cap = serializers.IntegerField(source="cap")
    sent_this_year = serializers.IntegerField()
    remaining_this_year = serializers.IntegerField(source="remaining")
    minimum = serializers.IntegerField()
    award_balance = serializers.IntegerField()


class QuoteQuerySerializer(serializers.Serializer):
    miles = serializers.IntegerField(
        min_value=0,
        max_value=10_000_000,
        required=False,
        default=0,
        help_text="Miles to send; 0 or left out: the allowance only.",
    )


class HouseholdView(APIView):
    @extend_schema(
        operation_id="loyalty_household_retrieve", summary="My household", responses={200: HouseholdSerializer, 404: NOT_A_MEMBER}
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        return _answer(_own_member(request))

    @extend_schema(
        operation_id="loyalty_household_create",
        summary="Start a household, as its head",
        request=None,
        responses={201: HouseholdSerializer, 404: NOT_A_MEMBER, 409: CONFLICT},
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        member = _own_member(request)
        services.household_create(member=member)
        return _answer(member, status.HTTP_201_CREATED)


class InvitationsView(APIView):
    @extend_schema(
        operation_id="loyalty_household_invite",
        summary="Invite a member to my household (head)",
        request=InviteInputSerializer,
        responses={
            201: HouseholdSerializer,
            400: error(f"The number or name names no member who can be invited: {NUMBER_REFUSED}, `invite_self`."),
            404: NOT_A_MEMBER,
            409: CONFLICT,
        },
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        member = _own_member(request)
        data = InviteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.household_invite(
            head=member, number=data.validated_data["frequent_flyer_number"], family_name=data.validated_data["family_name"]
        )
        return _answer(member, status.HTTP_201_CREATED)


INVITATION_PARAM = OpenApiParameter("invitation_id", OpenApiTypes.INT, OpenApiParameter.PATH)


class InvitationView(APIView):
    @extend_schema(
        operation_id="loyalty_household_invitation_cancel",
        summary="Withdraw an invitation (head)",
        parameters=[INVITATION_PARAM],
        responses={200: HouseholdSerializer, 404: NOT_A_MEMBER, 409: CONFLICT},
    )
    def delete(self, request: Request, invitation_id: str, **kwargs: Any) -> Response:
        member = _own_member(request)
        services.household_invitation_cancel(head=member, invitation_id=int(invitation_id))
        return _answer(member)


class AcceptView(APIView):
    @extend_schema(
        operation_id="loyalty_household_invitation_accept",
        summary="Accept an invitation addressed to me",
        parameters=[INVITATION_PARAM],
        request=None,
        responses={200: HouseholdSerializer, 404: NOT_A_MEMBER, 409: CONFLICT},
    )
    def post(self, request: Request, invitation_id: str, **kwargs: Any) -> Response:
        member = _own_member(request)
        services.household_invitation_accept(invitation_id=int(invitation_id), member=member)
        return _answer(member)


class DeclineView(APIView):
    @extend_schema(
        operation_id="loyalty_household_invitation_decline",
        summary="Decline an invitation addressed to me",
        parameters=[INVITATION_PARAM],
        request=None,
        responses={200: HouseholdSerializer, 404: NOT_A_MEMBER},
    )
    def post(self, request: Request, invitation_id: str, **kwargs: Any) -> Response:
        member = _own_member(request)
        services.household_invitation_decline(invitation_id=int(invitation_id), member=member)
        return _answer(member)


class LeaveView(APIView):
    @extend_schema(
        operation_id="loyalty_household_leave",
        summary="Leave my household (the head leaves last, closing it)",
        request=None,
        responses={200: HouseholdSerializer, 404: NOT_A_MEMBER, 409: CONFLICT},
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        member = _own_member(request)
        services.household_leave(member=member)
        return _answer(member)


class HouseholdMemberView(APIView):
    @extend_schema(
        operation_id="loyalty_household_member_remove",
        summary="Remove a member from my household (head)",
        parameters=[OpenApiParameter("number", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={200: HouseholdSerializer, 404: NOT_A_MEMBER, 409: CONFLICT},
    )
    def delete(self, request: Request, number: str, **kwargs: Any) -> Response:
        member = _own_member(request)
        target = Member.objects.filter(number=number, household__head=member).only("pk").first()
        if target is None:
            raise NotFound(_("This member is not in your household."), code="member_not_in_household")
        services.household_remove(head=member, member_id=target.pk)
        return _answer(member)


class TransferQuoteView(APIView):
    @extend_schema(
        operation_id="loyalty_transfer_quote",
        summary="What a transfer would cost, and my allowance this year",
        parameters=[QuoteQuerySerializer],  # its bounds (0 to 10 000 000) are in the schema, as they are enforced
        responses={200: TransferQuoteSerializer, 400: error("`miles` is not a whole number in range."), 404: NOT_A_MEMBER},
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        member = _own_member(request)
        query = QuoteQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        quote = services.transfer_quote(member=member, miles=query.validated_data["miles"])
        data = {
            **quote.__dict__,
            "remaining": quote.remaining,
            "minimum": selectors.programme().transfer_minimum_miles,
            "award_balance": member.award_balance,
        }
        return Response(TransferQuoteSerializer(data).data)


class TransfersView(APIView):
    @extend_schema(
        operation_id="loyalty_transfer_create",
        summary="Send miles to another member",
        description="The fee is charged in miles on top of the miles sent; at most the yearly cap per calendar year.",
        request=TransferInputSerializer,
        responses={
            201: TransferSerializer,
            200: TransferSerializer,
            400: error(f"{NUMBER_REFUSED}, `transfer_to_self`, or below the programme's minimum (`transfer_too_small`)."),
            404: NOT_A_MEMBER,
            409: error(
                "Not enough miles for the transfer and its fee (`insufficient_miles`) or over the yearly cap (`transfer_cap_reached`)."
            ),
        },
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        member = _own_member(request)
        data = TransferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        transfer = services.miles_transfer(
            sender=member,
            recipient_number=data.validated_data["frequent_flyer_number"],
            recipient_family_name=data.validated_data["family_name"],
            miles=data.validated_data["miles"],
            transfer_id=data.validated_data.get("transfer_id") or uuid.uuid4(),
            by=request.user,
        )
        member.refresh_from_db(fields=["award_balance"])
        body = {**transfer.__dict__, "award_balance": member.award_balance}
        return Response(TransferSerializer(body).data, status=status.HTTP_201_CREATED if transfer.created else status.HTTP_200_OK)


def register(router) -> list:  # noqa: ANN001, ARG001
    from django.urls import re_path

    return [
        re_path(r"^loyalty/household/$", HouseholdView.as_view(), name="api-loyalty-household"),
        re_path(r"^loyalty/household/invitations/$", InvitationsView.as_view(), name="api-loyalty-household-invitations"),
        re_path(
            r"^loyalty/household/invitations/(?P<invitation_id>[0-9]{1,18})/$",
            InvitationView.as_view(),
            name="api-loyalty-household-invitation",
        ),
        re_path(
            r"^loyalty/household/invitations/(?P<invitation_id>[0-9]{1,18})/accept/$",
            AcceptView.as_view(),
            name="api-loyalty-household-accept",
        ),
        re_path(
            r"^loyalty/household/invitations/(?P<invitation_id>[0-9]{1,18})/decline/$",
            DeclineView.as_view(),
            name="api-loyalty-household-decline",
        ),
        re_path(r"^loyalty/household/leave/$", LeaveView.as_view(), name="api-loyalty-household-leave"),
        re_path(
            r"^loyalty/household/members/(?P<number>[0-9]{10})/$",
            HouseholdMemberView.as_view(),
            name="api-loyalty-household-member",
        ),
        re_path(r"^loyalty/transfers/quote/$", TransferQuoteView.as_view(), name="api-loyalty-transfer-quote"),
        re_path(r"^loyalty/transfers/$", TransfersView.as_view(), name="api-loyalty-transfers"),
    ]
