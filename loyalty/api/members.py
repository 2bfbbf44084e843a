"""Membership API: a passenger's own membership and statement, and the same for staff by number.

- ``/loyalty/me/``, ``/loyalty/me/statement/``, ``POST /loyalty/me/enrol/``: the login's own customer
  record only (there is no number to guess); 404 ``not_a_member`` before joining.
- ``/loyalty/members/{number}/`` and ``/statement/``: staff with ``loyalty.view_member``; each read is
  written to the customer access log, as the office member page does. A passenger gets 404.
- ``POST /loyalty/customers/{customer_number}/enrol/``: staff with ``crm.view_customer`` and
  ``loyalty.add_member`` (an agent enrolling a caller).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.api_support import ErrorResponseSerializer, StaffPermission, StandardPagination
from crm.errors import NotFound
from crm.models import Customer
from loyalty import account, numbers, selectors, services
from loyalty.models import EnrolmentChannel, EntryKind, Member, MemberStatus
from loyalty.shapes import MembershipSerializer, MilesEntryPageSerializer

NOT_A_MEMBER = ErrorResponseSerializer
FILTER_PARAMETERS = [
    OpenApiParameter("kind", OpenApiTypes.STR, enum=list(EntryKind.values), description="Only lines of this kind."),
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="Posted on or after this day."),
    OpenApiParameter(
        "date_to", OpenApiTypes.DATE, description="Posted on or before this day; with `date_from`, not before it (else 400)."
    ),
    OpenApiParameter("page", OpenApiTypes.INT),
    OpenApiParameter("page_size", OpenApiTypes.INT),
]
NUMBER = OpenApiParameter("number", OpenApiTypes.STR, OpenApiParameter.PATH, description="Frequent flyer number.")


def _own_customer(request: Request) -> Customer:
    return crm_selectors.customer_get_for_user(user=request.user)


def _own_member(request: Request) -> Member:
    member = selectors.member_for_customer(customer_id=_own_customer(request).pk)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise NotFound(_("You are not a member of the programme yet."), code="not_a_member")
    return member


def _statement_page(view: APIView, request: Request, member: Member) -> Response:
    """The filtered statement, paginated as every list of the API; bad filters are a 400 naming the field."""
    from rest_framework.exceptions import ValidationError

    empty = sorted(name for name in account.StatementFilterForm.base_fields if request.query_params.get(name) == "")
    if empty:  # as every filter of the API: an empty value is an error, not silently no filter
        raise ValidationError({name: [_("Enter a value, or leave the parameter out.")] for name in empty})
    form = account.StatementFilterForm(request.query_params or None)
    if form.is_bound and not form.is_valid():
        raise ValidationError({name: [str(e) for e in errors] for name, errors in form.errors.items()})
    entries = account.statement_filtered(member=member, **form.filters())
    paginator = StandardPagination()
    page = paginator.paginate_queryset(entries, request, view=view)
    return paginator.get_paginated_response([account.entry_data(e) for e in page])


def _audit(request: Request, member: Member) -> None:
    if member.customer is None:
        return
    match = request.resolver_match
    crm_services.customer_access_record(
        customer=member.customer,
        user=request.user,
        surface="api",
        path=request.get_full_path(),
        view_name=match.view_name if match else "",
        method=request.method,
    )


def _member_for_staff(number: str) -> Member:
    cleaned = numbers.clean(number)
    if not numbers.is_valid(cleaned):
        raise NotFound(_("No member has this frequent flyer number."), code="member_not_found")
    return selectors.member_get_by_number(number=cleaned)


class MyMembershipView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="loyalty_me_retrieve",
        summary="My membership: number, tier, balances and progress to the next tier",
        responses={200: MembershipSerializer, 404: NOT_A_MEMBER},
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(account.member_summary(member=_own_member(request)))


class MyEnrolView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="loyalty_me_enrol",
        summary="Join the programme",
        description="Idempotent: 201 with the new membership, 200 with the existing one.",
        request=None,
        responses={200: MembershipSerializer, 201: MembershipSerializer, 404: ErrorResponseSerializer},
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        member, created = services.member_join(customer=_own_customer(request), channel=EnrolmentChannel.API, by=request.user)
        member = selectors.member_for_customer(customer_id=member.customer_id)
        return Response(account.member_summary(member=member), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class MyStatementView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="loyalty_me_statement",
        summary="My statement, newest first",
        parameters=FILTER_PARAMETERS,
        responses={200: MilesEntryPageSerializer, 400: ErrorResponseSerializer, 404: NOT_A_MEMBER},
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        return _statement_page(self, request, _own_member(request))


class MemberView(APIView):
    permission_classes = [StaffPermission]
    permissions_by_action = {None: ("loyalty.view_member",)}
    detail = True

    @extend_schema(
        operation_id="loyalty_member_retrieve",
        summary="A member by frequent flyer number (staff; audited)",
        parameters=[NUMBER],
        responses={200: MembershipSerializer, 404: ErrorResponseSerializer},
    )
    def get(self, request: Request, number: str, **kwargs: Any) -> Response:
        member = _member_for_staff(number)
        _audit(request, member)
        return Response(account.member_summary(member=member))


class MemberStatementView(APIView):
    permission_classes = [StaffPermission]
    permissions_by_action = {None: ("loyalty.view_member",)}
    detail = True

    @extend_schema(
        operation_id="loyalty_member_statement",
        summary="A member's statement (staff; audited)",
        parameters=[NUMBER, *FILTER_PARAMETERS],
        responses={200: MilesEntryPageSerializer, 400: ErrorResponseSerializer, 404: ErrorResponseSerializer},
    )
    def get(self, request: Request, number: str, **kwargs: Any) -> Response:
        member = _member_for_staff(number)
        _audit(request, member)
        return _statement_page(self, request, member)


class CustomerEnrolView(APIView):
    permission_classes = [StaffPermission]
    permissions_by_action = {None: ("crm.view_customer", "loyalty.add_member")}
    detail = True

    @extend_schema(
        operation_id="loyalty_customer_enrol",
        summary="Enrol a customer (staff)",
        description="Idempotent: 201 with the new membership, 200 with the existing one. Noted on the customer's timeline.",
        parameters=[OpenApiParameter("customer_number", OpenApiTypes.STR, OpenApiParameter.PATH)],
        request=None,
        responses={
            200: MembershipSerializer,
            201: MembershipSerializer,
            404: ErrorResponseSerializer,
            409: ErrorResponseSerializer,
        },
    )
    def post(self, request: Request, customer_number: str, **kwargs: Any) -> Response:
        customer = crm_selectors.customer_get(customer_number="".join(customer_number.split()).upper())
        member, created = services.member_join(customer=customer, channel=EnrolmentChannel.OFFICE, by=request.user)
        member = selectors.member_for_customer(customer_id=customer.pk)
        return Response(account.member_summary(member=member), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def urlpatterns() -> list:
    from django.urls import re_path
    from rest_framework.urlpatterns import format_suffix_patterns

    return format_suffix_patterns(
        [
            re_path(r"^loyalty/me/$", MyMembershipView.as_view(), name="api-loyalty-me"),
            re_path(r"^loyalty/me/enrol/$", MyEnrolView.as_view(), name="api-loyalty-me-enrol"),
            re_path(r"^loyalty/me/statement/$", MyStatementView.as_view(), name="api-loyalty-me-statement"),
            re_path(r"^loyalty/members/(?P<number>[^/.]+)/$", MemberView.as_view(), name="api-loyalty-member"),
            re_path(
                r"^loyalty/members/(?P<number>[^/.]+)/statement/$",
                MemberStatementView.as_view(),
                name="api-loyalty-member-statement",
            ),
            re_path(
                r"^loyalty/customers/(?P<customer_number>[^/.]+)/enrol/$",
                CustomerEnrolView.as_view(),
                name="api-loyalty-customer-enrol",
            ),
        ]
    )
