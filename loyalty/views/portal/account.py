"""The member's own pages: joining, the miles home with the progress to the next tier, the statement
(and its CSV) and the digital membership card.

Each page reads the passenger's own membership through their login: there is no member number in the
URL, so no one reaches someone else's miles. A passenger who is not a member is sent to the join page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import selectors as crm_selectors
from crm.errors import ApplicationError, NotFound
from crm.models import Customer
from loyalty import account, selectors, services
from loyalty.models import EnrolmentChannel, Member, MemberStatus

# Pages of the programme built beside this one; each link shows once its page exists.
HOME_LINKS = (
    ("loyalty_portal:miles_statement", gettext_lazy("Statement")),
    ("loyalty_portal:miles_card", gettext_lazy("Membership card")),
    ("loyalty_portal:claims", gettext_lazy("Claim missing miles")),
    ("loyalty_portal:redeem", gettext_lazy("Spend miles")),
    ("loyalty_portal:household", gettext_lazy("Household")),
)


def _own_customer(request: HttpRequest) -> Customer:
    try:
        return crm_selectors.customer_get_for_user(user=request.user)
    except NotFound:
        raise Http404(_("You have no customer record.")) from None


def _own_member(request: HttpRequest) -> Member | None:
    customer = _own_customer(request)
    member = selectors.member_for_customer(customer_id=customer.pk)
    if member is None or member.status != MemberStatus.ACTIVE:
        return None
    member.customer = customer
    return member


@login_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def miles(request: HttpRequest) -> HttpResponse:
    """The member's home: balance, tier, progress; the join page for anyone who is not a member yet."""
    member = _own_member(request)
    tiers = selectors.tiers()
    programme = selectors.programme()
    if member is None:
        return render(request, "portal/loyalty/join.html", {"programme": programme, "tiers": tiers})
    context = {
        "member": member,
        "programme": programme,
        "progress": account.tier_progress(member=member, tiers=tiers),
        "links": account.links(HOME_LINKS),
        "number": account.grouped_number(member.number),
    }
    return render(request, "portal/loyalty/home.html", context)


@login_required
@require_POST
def join(request: HttpRequest) -> HttpResponse:
    customer = _own_customer(request)
    try:
        member, created = services.member_join(customer=customer, channel=EnrolmentChannel.PORTAL, by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("loyalty_portal:miles")
    if created:
        messages.success(
            request,
            _("Welcome to %(programme)s. Your frequent flyer number is %(number)s.")
            % {"programme": selectors.programme().local_name(), "number": account.grouped_number(member.number)},
        )
    return redirect("loyalty_portal:miles")


@login_required
@never_cache
@require_GET
def statement(request: HttpRequest) -> HttpResponse:
    """Every ledger line, 25 a page, filtered by kind and date; the same filters give the CSV."""
    member = _own_member(request)
    if member is None:
        return redirect("loyalty_portal:miles")
    form = account.StatementFilterForm(request.GET or None)
    entries = account.statement_filtered(member=member, **form.filters())
    page = Paginator(entries, account.STATEMENT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "member": member,
        "programme": selectors.programme(),
        "form": form,
        "page_obj": page,
        "filters": query.urlencode(),
    }
    return render(request, "portal/loyalty/statement.html", context)


@login_required
@never_cache
@require_GET
def statement_csv(request: HttpRequest) -> HttpResponse:
    member = _own_member(request)
    if member is None:
        return redirect("loyalty_portal:miles")
    form = account.StatementFilterForm(request.GET or None)
    entries = account.statement_filtered(member=member, **form.filters())
    response = StreamingHttpResponse(account.statement_csv_rows(entries), content_type="text/csv; charset=utf-8")
    filename = f"statement-{member.number}-{timezone.localdate().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@never_cache
@require_GET
def card(request: HttpRequest) -> HttpResponse:
    """The digital membership card: name, number, tier colour and a QR code of the number for the desk."""
    member = _own_member(request)
    if member is None:
        return redirect("loyalty_portal:miles")
    context = {
        "member": member,
        "customer": member.customer,
        "programme": selectors.programme(),
        "number": account.grouped_number(member.number),
        "qr": mark_safe(account.qr_svg(member.number)),  # noqa: S308 - built from digits only, label escaped
    }
    return render(request, "portal/loyalty/card.html", context)
