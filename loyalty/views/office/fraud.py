"""The fraud review queue: open flags, oldest first; a supervisor clears or confirms each with a reason."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from crm.errors import ApplicationError, NotFound
from crm.permissions import StaffPermissionRequiredMixin
from loyalty import selectors, services
from loyalty.forms import FraudReviewForm
from loyalty.models import FraudFlag, FraudSignal, ReviewStatus

SEE_FLAGS = ("loyalty.view_fraudflag",)
REVIEW_FLAGS = ("loyalty.view_fraudflag", "loyalty.change_fraudflag")
QUEUE_PAGE_SIZE = 25
_LOGIN_CHANGES = {"email": gettext_lazy("e-mail address"), "password": gettext_lazy("password")}


def describe(flag: FraudFlag) -> str:
    """What the flag is about, in the reader's language, from its stored codes and figures."""
    details = flag.details or {}
    if flag.signal == FraudSignal.THIRD_PARTY_AFTER_LOGIN_CHANGE:
        what = _LOGIN_CHANGES.get(details.get("login_change", ""), _("login"))
        return ngettext(
            "Award booking %(locator)s for %(count)d traveller who is not the member, %(hours)s hours after a change of %(what)s.",
            "Award booking %(locator)s for %(count)d travellers, none of them the member, %(hours)s hours after a change of %(what)s.",
            details.get("travellers", 0),
        ) % {
            "locator": details.get("record_locator", "?"),
            "count": details.get("travellers", 0),
            "hours": details.get("hours_after_change", "?"),
            "what": str(what),
        }
    if flag.signal == FraudSignal.PARTNER_VELOCITY:
        return _("%(miles)s miles from %(partner)s within 24 hours (alert above %(alert)s).") % {
            "miles": f"{details.get('miles_24h', 0):,}",
            "partner": details.get("partner_name") or details.get("partner", "?"),
            "alert": f"{details.get('alert', 0):,}",
        }
    return ""


class FraudQueueView(StaffPermissionRequiredMixin, View):
    permission_required = SEE_FLAGS

    def get(self, request: HttpRequest) -> HttpResponse:
        status = request.GET.get("status") or ReviewStatus.OPEN
        if status not in ReviewStatus.values:
            status = ReviewStatus.OPEN
        page = Paginator(selectors.fraud_flags(status=status), QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = [{"flag": flag, "description": describe(flag)} for flag in page.object_list]
        context = {
            "page_obj": page,
            "rows": rows,
            "status": status,
            "statuses": ReviewStatus.choices,
            "form": FraudReviewForm() if request.user.has_perms(REVIEW_FLAGS) else None,
        }
        return render(request, "office/loyalty/fraud_queue.html", context)


class FraudReviewView(StaffPermissionRequiredMixin, View):
    permission_required = REVIEW_FLAGS
    http_method_names = ["post"]

    def post(self, request: HttpRequest, flag_id: int) -> HttpResponse:
        try:
            flag = selectors.fraud_flag_get(flag_id=flag_id)
        except NotFound:
            raise Http404("No such flag.") from None
        form = FraudReviewForm(request.POST)
        back = redirect(f"{reverse('loyalty_office:fraud_queue')}#flag-{flag.pk}")
        if not form.is_valid():
            errors = [f"{form.fields[name].label}: {' '.join(messages_)}" for name, messages_ in form.errors.items()]
            messages.error(request, _("Nothing was changed. %(errors)s") % {"errors": " ".join(errors)})
            return back
        try:
            services.fraud_flag_review(
                flag=flag, decision=form.cleaned_data["decision"], note=form.cleaned_data["note"], by=request.user
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return back
        done = _("Flag cleared.") if form.cleaned_data["decision"] == ReviewStatus.CLEARED else _("Fraud confirmed.")
        messages.success(request, done)
        return redirect("loyalty_office:fraud_queue")
