"""Campaigns at the office (Marketers): the list, the form, one campaign with its lifecycle buttons and runs,
the preview with a test send, and the month calendar. Every change goes through a lifecycle service."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from csp.decorators import csp_update
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views import View

from crm import selectors as crm_selectors
from crm.errors import ApplicationError, NotFound
from crm.forms import add_application_error, normalize_customer_number
from crm.permissions import StaffPermissionRequiredMixin
from marketing import selectors, services
from marketing.forms import (
    TEMPLATE_FIELDS,
    CampaignFilterForm,
    CampaignForm,
    CampaignPreviewForm,
    CampaignRejectForm,
    campaign_initial,
)
from marketing.models import Campaign, CampaignKind, CampaignRepeat, CampaignStatus

PAGE_SIZE = 25
RUNS_PAGE_SIZE = 20
SEE = ("marketing.view_campaign",)
ADD = (*SEE, "marketing.add_campaign")
CHANGE = (*SEE, "marketing.change_campaign")
APPROVE = (*SEE, "marketing.approve_campaign")
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.PAUSED)
# The lifecycle buttons: which statuses show each, and who may press it.
ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "schedule": ((CampaignStatus.DRAFT,), CHANGE),
    "approve": ((CampaignStatus.AWAITING_APPROVAL,), APPROVE),
    "reject": ((CampaignStatus.AWAITING_APPROVAL,), APPROVE),
    "pause": ((CampaignStatus.SCHEDULED, CampaignStatus.RUNNING), CHANGE),
    "resume": ((CampaignStatus.PAUSED,), CHANGE),
    "complete": ((CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED), CHANGE),
}


def _campaign_or_404(campaign_id: int) -> Campaign:
    try:
        return selectors.campaign_for_office(campaign_id=campaign_id)
    except NotFound:
        raise Http404("No such campaign.") from None


def _results_url(campaign: Campaign) -> str:
    """The results page, once the app has one."""
    try:
        return reverse("marketing_office:campaign_results", args=[campaign.pk])
    except NoReverseMatch:
        return ""


def schedule_summary(campaign: Campaign) -> str:
    """When the campaign sends, in words ("Every day at 09:00 in each customer's time zone")."""
    if campaign.kind == CampaignKind.ONE_OFF:
        if campaign.send_at is None:
            return _("Not scheduled yet.")
        # A time may end in its own full stop ("3 p.m."): the sentence's full stop then ends it, not a second one.
        moment = formats.date_format(timezone.localtime(campaign.send_at), "DATETIME_FORMAT").removesuffix(".")
        return _("Once, on %(moment)s.") % {"moment": moment}
    if campaign.kind == CampaignKind.TRIGGERED:
        trigger = campaign.get_trigger_display() or _("an event")
        days = campaign.trigger_days or 0
        text = (
            _("On the trigger “%(trigger)s”, %(days)d days") % {"trigger": trigger, "days": days}
            if days
            else _("On the trigger “%(trigger)s”") % {"trigger": trigger}
        )
    else:
        at = campaign.send_time.strftime("%H:%M") if campaign.send_time else "—"
        anchor = campaign.starts_on or timezone.localtime(campaign.created_at).date()
        if campaign.repeat == CampaignRepeat.WEEKLY:
            text = _("Every %(weekday)s at %(time)s in each customer's time zone") % {
                "weekday": formats.date_format(anchor, "l"),
                "time": at,
            }
        elif campaign.repeat == CampaignRepeat.MONTHLY:
            text = _("Every month on day %(day)d at %(time)s in each customer's time zone") % {"day": anchor.day, "time": at}
        else:
            text = _("Every day at %(time)s in each customer's time zone") % {"time": at}
        if campaign.kind == CampaignKind.BIRTHDAY:
            text = _("%(schedule)s, to the customers whose birthday it is") % {"schedule": text}
    if campaign.starts_on and campaign.ends_on:
        span = _(", from %(first)s to %(last)s.") % {
            "first": formats.date_format(campaign.starts_on),
            "last": formats.date_format(campaign.ends_on),
        }
    elif campaign.starts_on:
        span = _(", from %(first)s.") % {"first": formats.date_format(campaign.starts_on)}
    elif campaign.ends_on:
        span = _(", until %(last)s.") % {"last": formats.date_format(campaign.ends_on)}
    else:
        span = "."
    return f"{text}{span}"


# --- List --------------------------------------------------------------------------------------


class CampaignListView(StaffPermissionRequiredMixin, View):
    """Every campaign with its next send and audience (the segment's last count: no count per row)."""

    permission_required = SEE

    def get(self, request: HttpRequest) -> HttpResponse:
        filters = CampaignFilterForm(request.GET or None)
        status = kind = ""
        if filters.is_bound and filters.is_valid():
            status, kind = filters.cleaned_data["status"], filters.cleaned_data["kind"]
        page = Paginator(selectors.campaigns_for_office(status=status, kind=kind), PAGE_SIZE).get_page(request.GET.get("page"))
        today = timezone.localdate()
        rows = [(c, selectors.campaign_next_send(campaign=c, today=today)) for c in page.object_list]
        context = {"page_obj": page, "rows": rows, "filters": filters, "filtered": bool(status or kind)}
        return render(request, "office/marketing/campaign_list.html", context)


# --- Create and edit ---------------------------------------------------------------------------


class _CampaignFormView(StaffPermissionRequiredMixin, View):
    def _render(self, request: HttpRequest, form: CampaignForm, campaign: Campaign | None, status: int = 200) -> HttpResponse:
        context = {"form": form, "campaign": campaign, "template_fields": TEMPLATE_FIELDS}
        return render(request, "office/marketing/campaign_form.html", context, status=status)

    def _save(self, request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
        form = CampaignForm(request.POST, offer_current=campaign.offer_id if campaign else None)
        if not form.is_valid():
            return self._render(request, form, campaign, status=400)
        fields = form.cleaned_for_service()
        try:
            if campaign is None:
                campaign = services.campaign_create(**fields, by=request.user)
                messages.success(request, _("Campaign created as a draft. Preview it, then schedule it."))
            else:
                services.campaign_update(campaign=campaign, by=request.user, **fields)
                messages.success(request, _("Campaign saved."))
        except ApplicationError as error:
            add_application_error(form, error)
            return self._render(request, form, campaign, status=400)
        return redirect("marketing_office:campaign_detail", campaign_id=campaign.pk)


class CampaignCreateView(_CampaignFormView):
    permission_required = ADD

    def get(self, request: HttpRequest) -> HttpResponse:
        initial: dict[str, Any] = {}
        if request.GET.get("segment", "").isdigit():
            initial["segment"] = int(request.GET["segment"])
        return self._render(request, CampaignForm(initial=initial), None)

    def post(self, request: HttpRequest) -> HttpResponse:
        return self._save(request, None)


class CampaignEditView(_CampaignFormView):
    """Only a draft or a paused campaign changes; a scheduled one is paused first."""

    permission_required = CHANGE

    def _refused(self, request: HttpRequest, campaign: Campaign) -> HttpResponse | None:
        if campaign.status in EDITABLE:
            return None
        messages.error(request, _("Only a draft or a paused campaign can be edited. Pause it first."))
        return redirect("marketing_office:campaign_detail", campaign_id=campaign.pk)

    def get(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = _campaign_or_404(campaign_id)
        refused = self._refused(request, campaign)
        if refused is not None:
            return refused
        form = CampaignForm(initial=campaign_initial(campaign), offer_current=campaign.offer_id)
        return self._render(request, form, campaign)

    def post(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = _campaign_or_404(campaign_id)
        return self._refused(request, campaign) or self._save(request, campaign)


# --- One campaign ------------------------------------------------------------------------------


class CampaignDetailView(StaffPermissionRequiredMixin, View):
    permission_required = SEE

    def get(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = _campaign_or_404(campaign_id)
        runs = Paginator(selectors.campaign_runs_with_counts(campaign=campaign), RUNS_PAGE_SIZE).get_page(request.GET.get("page"))
        user = request.user
        own = campaign.created_by_id == user.pk
        allowed = {
            action: campaign.status in statuses and user.has_perms(perms) and not (action in ("approve", "reject") and own)
            for action, (statuses, perms) in ACTIONS.items()
        }
        context = {
            "campaign": campaign,
            "runs": runs,
            "allowed": allowed,
            "awaiting_own": campaign.status == CampaignStatus.AWAITING_APPROVAL and own,
            "editable": campaign.status in EDITABLE and user.has_perms(CHANGE),
            "schedule": schedule_summary(campaign),
            "next_send": selectors.campaign_next_send(campaign=campaign),
            "results_url": _results_url(campaign),
            "reject_form": CampaignRejectForm(),
        }
        return render(request, "office/marketing/campaign_detail.html", context)


class CampaignActionView(StaffPermissionRequiredMixin, View):
    """One lifecycle button (schedule, approve, reject, pause, resume, complete): POST only, via its service."""

    permission_required = SEE
    http_method_names = ["post"]

    def post(self, request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
        if action not in ACTIONS:
            raise Http404("No such action.")
        _statuses, perms = ACTIONS[action]
        if not request.user.has_perms(perms):
            raise PermissionDenied
        campaign = _campaign_or_404(campaign_id)
        back = redirect("marketing_office:campaign_detail", campaign_id=campaign.pk)
        if action in ("approve", "reject") and campaign.created_by_id == request.user.pk:
            messages.error(request, _("A colleague approves a campaign, not the marketer who created it."))
            return back
        try:
            if action == "reject":
                form = CampaignRejectForm(request.POST)
                if not form.is_valid():
                    messages.error(request, _("Say why the campaign is rejected."))
                    return back
                services.campaign_reject(campaign=campaign, by=request.user, reason=form.cleaned_data["reason"])
            else:
                _SERVICES[action](campaign=campaign, by=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
            for problems in error.fields.values():
                for problem in [problems] if isinstance(problems, str) else problems:
                    if str(problem) != str(error.message) and str(problem) not in CampaignStatus.values:
                        messages.error(request, problem)
            return back
        campaign.refresh_from_db(fields=["status"])
        messages.success(request, _done(action, campaign))
        return back


_SERVICES = {
    "schedule": services.campaign_schedule,
    "approve": services.campaign_approve,
    "pause": services.campaign_pause,
    "resume": services.campaign_resume,
    "complete": services.campaign_complete,
}


def _done(action: str, campaign: Campaign) -> str:
    if action == "schedule" and campaign.status == CampaignStatus.AWAITING_APPROVAL:
        return _("The audience is above the limit: the campaign waits for a colleague's approval.")
    return {
        "schedule": _("Campaign scheduled."),
        "approve": _("Campaign approved and scheduled."),
        "reject": _("Campaign rejected: it is a draft again."),
        "pause": _("Campaign paused."),
        "resume": _("Campaign resumed."),
        "complete": _("Campaign completed: it sends nothing more."),
    }[action]


# --- Preview and test send ---------------------------------------------------------------------


def _preview_customer(request: HttpRequest, form: CampaignPreviewForm) -> Any:
    """The customer the preview is for (the service records the look at their record), None for sample values."""
    typed = form.cleaned_data.get("customer") or ""
    if not typed.strip():
        return None
    number = normalize_customer_number(typed)
    try:
        if number is None:
            raise NotFound()
        customer = crm_selectors.customer_get(customer_number=number)
    except NotFound:
        form.add_error("customer", _("No customer with that number."))
        return False
    return customer


# The campaign's HTML is shown in a sandboxed frame (no scripts, no same origin); it inherits this page's
# policy, so this page alone lets it use inline styles and pictures from the web as a real e-mail does.
PREVIEW_CSP = {"style-src": ["'unsafe-inline'"], "img-src": ["https:"]}


@method_decorator(csp_update(PREVIEW_CSP), name="get")
class CampaignPreviewView(StaffPermissionRequiredMixin, View):
    permission_required = SEE

    def get(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = _campaign_or_404(campaign_id)
        form = CampaignPreviewForm(request.GET or {"language": "en", "variant": "a"})
        rendered, problem = None, ""
        if form.is_valid():
            customer = _preview_customer(request, form)
            if customer is not False:
                try:
                    rendered = services.campaign_preview(
                        campaign=campaign, customer=customer, language=form.cleaned_data["language"],
                        variant=form.cleaned_data["variant"], by=request.user, path=request.get_full_path(),
                    )  # fmt: skip
                except ApplicationError as error:
                    problem = error.message
        context = {"campaign": campaign, "form": form, "rendered": rendered, "problem": problem}
        return render(request, "office/marketing/campaign_preview.html", context)


class CampaignTestSendView(StaffPermissionRequiredMixin, View):
    """Send the preview to the marketer's own address (never to the customer it is rendered for)."""

    permission_required = CHANGE
    http_method_names = ["post"]

    def post(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        campaign = _campaign_or_404(campaign_id)
        form = CampaignPreviewForm(request.POST)
        back = reverse("marketing_office:campaign_preview", args=[campaign.pk])
        if not form.is_valid():
            messages.error(request, _("Choose a language and a variant."))
            return redirect(back)
        customer = _preview_customer(request, form)
        if customer is False:
            messages.error(request, _("No customer with that number."))
            return redirect(back)
        data = form.cleaned_data
        try:
            services.campaign_test_send(
                campaign=campaign, by=request.user, customer=customer, language=data["language"], variant=data["variant"],
                path=request.get_full_path(),
            )  # fmt: skip
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Test message sent to %(email)s.") % {"email": request.user.email})
        query = urlencode({"customer": data["customer"] or "", "language": data["language"], "variant": data["variant"]})
        return redirect(f"{back}?{query}")


# --- Calendar ----------------------------------------------------------------------------------


def _month(value: str) -> date | None:
    try:
        year, month = (int(part) for part in value.split("-"))
        return date(year, month, 1) if 1900 <= year <= 2999 else None
    except (TypeError, ValueError):
        return None


class CampaignCalendarView(StaffPermissionRequiredMixin, View):
    """A month (Monday first) with each campaign on the days it sends; triggered ones are listed below."""

    permission_required = SEE

    def get(self, request: HttpRequest) -> HttpResponse:
        today = timezone.localdate()
        first = today.replace(day=1)
        status = 200
        if request.GET.get("month"):
            chosen = _month(request.GET["month"])
            if chosen is None:
                messages.error(request, _("Choose a month as YYYY-MM, e.g. 2026-12. Showing this month."))
                status = 400
            else:
                first = chosen
        weeks = calendar.Calendar(firstweekday=calendar.MONDAY).monthdatescalendar(first.year, first.month)
        grid_first, grid_last = weeks[0][0], weeks[-1][-1]
        dated, triggered = selectors.campaigns_for_calendar(first=grid_first, last=grid_last)
        by_day: dict[date, list[Campaign]] = {}
        for campaign, days in dated:
            for day in days:
                by_day.setdefault(day, []).append(campaign)
        previous = (first - timedelta(days=1)).replace(day=1)
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        context = {
            "month": first,
            "weeks": [[(day, day.month == first.month, by_day.get(day, [])) for day in week] for week in weeks],
            "weekdays": [formats.date_format(day, "D") for day in weeks[0]],
            "triggered": triggered,
            "today": today,
            "previous": f"{previous:%Y-%m}",
            "next": f"{following:%Y-%m}",
        }
        return render(request, "office/marketing/calendar.html", context, status=status)
