"""The back-office's miles adjustments: an agent's form on a member, and the supervisors' approvals queue.

The queue page is built from sections (``ApprovalsView.sections``), each a template under
``office/loyalty/approvals_<name>.html`` with its own page parameter, so status matches can join the
adjustments as a second section. Each page that shows one member's record, and each decision, is
recorded in the customer access log.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from crm.errors import ApplicationError, NotFound
from crm.forms import add_application_error
from crm.permissions import StaffPermissionRequiredMixin
from loyalty import selectors, services
from loyalty.forms import AdjustmentApproveForm, AdjustmentForm, AdjustmentRejectForm
from loyalty.models import Decision, Member
from loyalty.views.office.common import member_or_404, record_access

APPROVALS_PAGE_SIZE = 25
RECENT_ADJUSTMENTS = 10
ADJUST = ("loyalty.view_member", "loyalty.adjust_miles")
APPROVE = ("loyalty.view_member", "loyalty.view_adjustment", "loyalty.approve_loyalty")


class AdjustView(StaffPermissionRequiredMixin, View):
    """Adjust one member's miles: posted at once up to the threshold, otherwise sent to the approvals queue."""

    permission_required = ADJUST

    def _render(self, request: HttpRequest, member: Member, form: AdjustmentForm, status: int = 200) -> HttpResponse:
        record_access(request, member.customer)
        recent = selectors.adjustments_list().filter(member=member).order_by("-requested_at", "-pk")[:RECENT_ADJUSTMENTS]
        context = {
            "member": member,
            "form": form,
            "threshold": selectors.programme().adjustment_approval_threshold,
            "recent": recent,
        }
        return render(request, "office/loyalty/adjust.html", context, status=status)

    def get(self, request: HttpRequest, number: str) -> HttpResponse:
        return self._render(request, member_or_404(number), AdjustmentForm())

    def post(self, request: HttpRequest, number: str) -> HttpResponse:
        member = member_or_404(number)
        form = AdjustmentForm(request.POST)
        if not form.is_valid():
            return self._render(request, member, form, status=400)
        try:
            adjustment = services.adjustment_request(member=member, by=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            if exc.status == 403:
                raise PermissionDenied from exc
            add_application_error(form, exc)
            return self._render(request, member, form, status=exc.status)
        record_access(request, member.customer)
        if adjustment.status == Decision.PENDING:
            messages.info(request, _("The adjustment is above %(threshold)s miles: it waits for a supervisor's approval.") % {
                "threshold": f"{selectors.programme().adjustment_approval_threshold:,}"
            })  # fmt: skip
        else:
            messages.success(
                request,
                _("%(miles)s miles posted to member %(number)s.")
                % {"miles": f"{adjustment.award_miles:+,}", "number": member.number},
            )
        return redirect("loyalty_office:adjust", number=member.number)


class ApprovalsView(StaffPermissionRequiredMixin, View):
    """What waits for a supervisor, oldest first: one section per kind of request."""

    permission_required = APPROVE

    def sections(self, request: HttpRequest) -> dict[str, Any]:
        """Context for each section of the page; a new section adds its own key and template."""
        pending = Paginator(selectors.adjustments_pending(), APPROVALS_PAGE_SIZE).get_page(request.GET.get("adjustments_page"))
        matches = Paginator(selectors.status_matches(status=Decision.PENDING), APPROVALS_PAGE_SIZE).get_page(
            request.GET.get("status_matches_page")
        )
        can_decide = request.user.has_perms(("loyalty.view_statusmatch", "loyalty.approve_loyalty"))
        return {"adjustments": pending, "status_matches": matches, "status_matches_can_decide": can_decide}

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "office/loyalty/approvals.html", self.sections(request))


class AdjustmentDecisionView(StaffPermissionRequiredMixin, View):
    """Approve or reject one pending adjustment (POST from the queue), then back to the queue."""

    permission_required = APPROVE
    decision = "approve"

    def post(self, request: HttpRequest, adjustment_id: int) -> HttpResponse:
        try:
            adjustment = selectors.adjustment_get(adjustment_id=adjustment_id)
        except NotFound:
            raise Http404("No such adjustment.") from None
        form_class = AdjustmentApproveForm if self.decision == "approve" else AdjustmentRejectForm
        form = form_class(request.POST)
        back = reverse("loyalty_office:approvals")
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
            return redirect(back)
        try:
            if self.decision == "approve":
                services.adjustment_approve(adjustment=adjustment, by=request.user, note=form.cleaned_data["note"])
            else:
                services.adjustment_reject(adjustment=adjustment, by=request.user, note=form.cleaned_data["note"])
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(back)
        record_access(request, adjustment.member.customer)
        text = (
            _("Adjustment %(id)s for member %(number)s approved and posted.")
            if self.decision == "approve"
            else _("Adjustment %(id)s for member %(number)s rejected.")
        )
        messages.success(request, text % {"id": adjustment.pk, "number": adjustment.member.number})
        return redirect(back)
