"""Status match in the back-office: an agent asks for a tier from a member's page, a supervisor decides in a queue.

The request page shows one member (audited as a look at the customer); the queue lists the requests
waiting, oldest first, with approve and reject buttons (POST) for those who may decide, except on
their own requests.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from crm.errors import ApplicationError, NotFound
from crm.forms import add_application_error
from crm.permissions import StaffPermissionRequiredMixin
from crm.validation import validate_single_line_text
from loyalty import selectors, services
from loyalty.models import Decision, Member, StatusMatch, Tier
from loyalty.views.office.common import member_or_404, record_access

QUEUE_PAGE_SIZE = 25
SEE = ("loyalty.view_member", "loyalty.view_statusmatch")
REQUEST = (*SEE, "loyalty.add_statusmatch")
DECIDE = (*SEE, "loyalty.approve_loyalty")


class StatusMatchForm(forms.Form):
    tier = forms.ModelChoiceField(queryset=Tier.objects.none(), to_field_name="code", label=gettext_lazy("Tier to grant"))
    competitor_airline = forms.CharField(label=gettext_lazy("Airline"), max_length=60, validators=[validate_single_line_text])
    competitor_tier = forms.CharField(label=gettext_lazy("Their tier"), max_length=40, validators=[validate_single_line_text])
    competitor_number = forms.CharField(
        label=gettext_lazy("Their card number"), max_length=30, validators=[validate_single_line_text]
    )
    competitor_valid_until = forms.DateField(
        label=gettext_lazy("Their card valid until"), widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(
        label=gettext_lazy("Note"), max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("What you saw (a card, a statement) and anything the supervisor should know."),
    )  # fmt: skip

    def __init__(self, *args, member: Member, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = Tier.objects.filter(rank__gt=member.tier.rank).order_by("rank")


def _match_or_404(status_match_id: int) -> StatusMatch:
    try:
        return selectors.status_match_get(status_match_id=status_match_id)
    except NotFound:
        raise Http404("No such status match.") from None


class StatusMatchNewView(StaffPermissionRequiredMixin, View):
    """Ask for a tier for a member on the strength of their current card with another airline."""

    permission_required = REQUEST

    def _render(self, request: HttpRequest, member: Member, form: StatusMatchForm | None, status: int = 200) -> HttpResponse:
        pending = selectors.status_match_pending_for(member=member)
        context = {"member": member, "form": form or StatusMatchForm(member=member), "pending": pending}
        return render(request, "office/loyalty/status_match_new.html", context, status=status)

    def get(self, request: HttpRequest, number: str) -> HttpResponse:
        member = member_or_404(number)
        record_access(request, member.customer)
        return self._render(request, member, None)

    def post(self, request: HttpRequest, number: str) -> HttpResponse:
        member = member_or_404(number)
        record_access(request, member.customer)
        form = StatusMatchForm(request.POST, member=member)
        if form.is_valid():
            try:
                services.status_match_request(member=member, by=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(request, _("Status match requested: a supervisor will decide."))
                return redirect("loyalty_office:status_match_new", number=member.number)
        return self._render(request, member, form, status=400 if form.errors else 200)


class StatusMatchQueueView(StaffPermissionRequiredMixin, View):
    """The requests waiting for a decision, oldest first."""

    permission_required = SEE

    def get(self, request: HttpRequest) -> HttpResponse:
        page = Paginator(selectors.status_matches(status=Decision.PENDING), QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
        can_decide = request.user.has_perms(DECIDE)
        return render(request, "office/loyalty/status_match_queue.html", {"page_obj": page, "can_decide": can_decide})


class _DecideView(StaffPermissionRequiredMixin, View):
    """Approve or reject one request (POST from a queue), then back to the page it came from."""

    permission_required = DECIDE
    http_method_names = ["post"]
    decision = "approve"
    DECISIONS = {
        "approve": (
            services.status_match_approve,
            gettext_lazy("Approved: member %(number)s is now %(tier)s (or already higher)."),
        ),
        "reject": (services.status_match_reject, gettext_lazy("Rejected: the request for member %(number)s was closed.")),
    }

    def post(self, request: HttpRequest, status_match_id: int) -> HttpResponse:
        match = _match_or_404(status_match_id)
        record_access(request, match.member.customer)
        decide, done_message = self.DECISIONS[self.decision]
        try:
            decide(status_match=match, by=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done_message % {"number": match.member.number, "tier": match.tier.name})
        # Decided from the approvals page, back there; from the status-match queue, back to it.
        back = "approvals" if request.POST.get("back") == "approvals" else "status_match_queue"
        return redirect(reverse(f"loyalty_office:{back}"))


class StatusMatchApproveView(_DecideView):
    decision = "approve"


class StatusMatchRejectView(_DecideView):
    decision = "reject"
