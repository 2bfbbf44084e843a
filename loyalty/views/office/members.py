"""The member page in the back-office, and enrolling a customer from the customer 360.

Opening a member's page is a staff look at the customer's record: it is written to crm's access log
like the 360 itself.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from crm import selectors as crm_selectors
from crm.errors import ApplicationError
from crm.permissions import StaffPermissionRequiredMixin
from crm.views.merged import FollowsMergedCustomers, customer_or_404
from loyalty import account, numbers, selectors, services
from loyalty.models import EnrolmentChannel, Member
from loyalty.views.office.common import member_or_404, record_access

MEMBER_PAGE_SIZE = 25
SEARCH_LIMIT = 50
# Pages about a member built elsewhere in the programme, each with the permission it needs.
MEMBER_ACTIONS = (
    ("loyalty_office:adjust", gettext_lazy("Adjust miles"), "loyalty.adjust_miles"),
    ("loyalty_office:adjustment_list", gettext_lazy("Adjustments"), "loyalty.view_adjustment"),
    ("loyalty_office:status_match_new", gettext_lazy("Status match"), "loyalty.add_statusmatch"),
)


class MemberListForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Number or name"), required=False, max_length=100)
    tier = forms.ChoiceField(label=gettext_lazy("Tier"), required=False)

    def __init__(self, *args, tiers: list, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", _("All")), *((t.code, t.name) for t in tiers)]


class MemberListView(StaffPermissionRequiredMixin, View):
    """Members by frequent flyer number, customer name (the office search) or tier, newest first."""

    permission_required = ("loyalty.view_member",)

    def get(self, request: HttpRequest) -> HttpResponse:
        tiers = selectors.tiers()
        form = MemberListForm(request.GET or None, tiers=tiers)
        members = Member.objects.select_related("tier", "customer").filter(customer__isnull=False).order_by("-enrolled_at", "-pk")
        query = ""
        if form.is_bound and form.is_valid():
            query = form.cleaned_data["q"].strip()
            if form.cleaned_data["tier"]:
                members = members.filter(tier__code=form.cleaned_data["tier"])
            if query:
                number = numbers.clean(query)
                if numbers.is_valid(number):
                    members = members.filter(number=number)
                else:
                    found = [c.pk for c in crm_selectors.customer_search(query=query, limit=SEARCH_LIMIT)]
                    members = members.filter(customer_id__in=found)
        page = Paginator(members, MEMBER_PAGE_SIZE).get_page(request.GET.get("page"))
        context = {"form": form, "page_obj": page, "query": query, "programme": selectors.programme()}
        return render(request, "office/loyalty/member_list.html", context)


class MemberDetailView(StaffPermissionRequiredMixin, View):
    """Everything about one membership: balances, tier and its benefits, the whole statement."""

    permission_required = ("loyalty.view_member",)

    def get(self, request: HttpRequest, number: str) -> HttpResponse:
        member = member_or_404(number)
        if member.customer is not None:
            record_access(request, member.customer)
        form = account.StatementFilterForm(request.GET or None)
        entries = account.statement_filtered(member=member, **form.filters())
        page = Paginator(entries, account.STATEMENT_PAGE_SIZE).get_page(request.GET.get("page"))
        tiers = selectors.tiers()
        allowed = [(name, label) for name, label, perm in MEMBER_ACTIONS if request.user.has_perm(perm)]
        actions = account.member_links(allowed, member.number)
        context = {
            "member": member,
            "programme": selectors.programme(),
            "progress": account.tier_progress(member=member, tiers=tiers),
            "form": form,
            "page_obj": page,
            "actions": actions,
            "merged_into": member.merged_into.number if member.merged_into_id else None,
        }
        return render(request, "office/loyalty/member.html", context)


class CustomerEnrolView(FollowsMergedCustomers, StaffPermissionRequiredMixin, View):
    """An agent enrols the customer they are talking to (from the 360's button); noted on the timeline.

    Sent for a number merged away, it enrols nobody and shows the surviving record."""

    permission_required = ("crm.view_customer", "loyalty.add_member")
    http_method_names = ["post"]

    def post(self, request: HttpRequest, customer_number: str) -> HttpResponse:
        customer = customer_or_404(customer_number)  # erased customers are not found
        try:
            member, created = services.member_join(customer=customer, channel=EnrolmentChannel.OFFICE, by=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            if created:
                messages.success(request, _("Enrolled: frequent flyer number %(number)s.") % {"number": member.number})
            else:
                messages.info(request, _("This customer is already a member (%(number)s).") % {"number": member.number})
        return redirect("office:customer_detail", customer_number=customer.customer_number)
