"""The passenger's marketing preferences: consent per channel, the language of our messages, what we sent."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from crm.errors import ApplicationError, NotFound
from crm.forms.errors import add_application_error
from crm.selectors import customer_get_for_user
from marketing import selectors, services
from marketing.forms import MarketingPreferencesForm

RECENT_MESSAGES = 10


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def marketing_preferences(request: HttpRequest) -> HttpResponse:
    try:
        customer = customer_get_for_user(user=request.user)
    except NotFound:
        raise Http404(_("You have no customer record.")) from None
    initial = {**services.marketing_consent_current(customer=customer), "preferred_language": customer.preferred_language}
    form = MarketingPreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.marketing_preferences_save(
                customer=customer,
                channels=form.channels(),
                language=form.cleaned_data["preferred_language"],
                by=request.user,
            )
        except ApplicationError as exc:
            add_application_error(form, exc)
        else:
            if changed:
                messages.success(request, _("Your marketing preferences are saved."))
            else:
                messages.info(request, _("Nothing changed."))
            return redirect("marketing_portal:marketing_preferences")
    sent = selectors.messages_sent_to(customer=customer, limit=RECENT_MESSAGES)
    return render(request, "portal/marketing/preferences.html", {"form": form, "customer": customer, "sent": sent})
