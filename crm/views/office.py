"""The back-office at /office/: find a customer, the customer 360, edit, duplicates, leads, audit.

Views are thin: parse the request with a form, call a selector or a service, render. Every page
that shows one customer's record writes a ``CustomerAccess`` row. Passport and national ID
numbers are shown and editable only with ``crm.view_identity_documents``; everyone else sees
them masked, and the plaintext never reaches their HTML.
"""

from __future__ import annotations

import ast
from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import LoginView
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django_countries.fields import Country

from crm import registry, selectors, services
from crm.errors import ApplicationError, NotFound
from crm.forms import (
    IDENTITY_NUMBER_FIELDS,
    AccessLogFilterForm,
    ConsentRecordForm,
    CustomerMergeForm,
    CustomerSearchForm,
    DuplicatePairForm,
    LeadAdvanceForm,
    LeadConvertForm,
    LeadFilterForm,
    LeadForm,
    LeadNoteForm,
    OfficeAuthenticationForm,
    OfficeCustomerForm,
    add_application_error,
    normalize_customer_number,
)
from crm.models import ConsentSource, Customer, Lead, LeadSource, LeadStatus
from crm.permissions import (
    ADMINISTRATOR,
    AGENT,
    SUPERVISOR,
    StaffPermissionRequiredMixin,
    can_see_identity_documents,
    mask,
    roles_of,
)
from crm.views.merged import FollowsMergedCustomers
from crm.views.merged import customer_or_404 as _customer_or_404

SEARCH_LIMIT = 50
TIMELINE_PAGE_SIZE = 20
HISTORY_PAGE_SIZE = 25
HISTORY_PREVIEW = 10
CONSENT_HISTORY_PREVIEW = 20
RELATED_PREVIEW = 20
LEADS_PER_COLUMN = 20
LEAD_PAGE_SIZE = 25
ACCESS_LOG_PAGE_SIZE = 50
RECENTLY_VIEWED = 10
DISTINCT_PAIRS_SHOWN = 20

# The duplicate finder explains itself in English SQL literals; these are the words people read.
DUPLICATE_REASONS = {
    "same e-mail": gettext_lazy("same e-mail"),
    "same phone": gettext_lazy("same phone"),
    "same passport": gettext_lazy("same passport"),
    "similar name, same date of birth": gettext_lazy("similar name, same date of birth"),
}


# --- Helpers --------------------------------------------------------------------------------


class OfficeView(FollowsMergedCustomers, StaffPermissionRequiredMixin, View):
    """Logged in at the office login, a staff member, and holding every listed permission; a customer
    number merged away opens the surviving record."""

    permission_required: tuple[str, ...] = ("crm.view_customer",)


def _lead_or_404(lead_id: int | str) -> Lead:
    try:
        return selectors.lead_get(lead_id=lead_id)
    except NotFound:
        raise Http404("No lead with that id.") from None


def _record_access(request: HttpRequest, customer: Customer) -> None:
    """Audit one staff look at a customer's record."""
    match = request.resolver_match
    services.customer_access_record(
        customer=customer,
        user=request.user,
        surface="office",
        path=request.path,
        view_name=match.view_name if match else "",
        method=request.method,
    )


def _page(request: HttpRequest, queryset: QuerySet, per_page: int) -> Page:
    """Any ?page= (junk, negative, past the end) lands on a real page instead of an error."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def _documents(customer: Customer, *, visible: bool) -> list[tuple[str, str]]:
    """Passport and national ID numbers as this user may see them: plain or masked."""
    shown = []
    for field in IDENTITY_NUMBER_FIELDS:
        value = getattr(customer, field) or ""
        shown.append((Customer._meta.get_field(field).verbose_name, value if visible else mask(value)))
    return shown


def _blank(value: Any) -> bool:
    return value in (None, "", [], "None", "[]")


# Fields of the change history that say nothing to a person.
HISTORY_HIDDEN_FIELDS = {"id", "created_at", "search_name", "name_words", "updated_at"}
# Document numbers are logged only as their keyed hash: show that they changed, never a value.
HISTORY_HASH_FIELDS = {"passport_hash": "passport_number", "national_id_hash": "national_id_number"}


def _logged_value(field: Any, value: Any) -> str:
    """A value as auditlog stored it (text), shown with its choice label ('VGML' -> 'Vegan meal')."""
    if _blank(value):
        return ""
    base = getattr(field, "base_field", None)
    if base is not None and isinstance(value, str) and value.startswith("["):
        try:
            items = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
        choices = dict(base.flatchoices or [])
        return ", ".join(str(choices.get(item, item)) for item in items) if isinstance(items, list) else value
    choices = dict(getattr(field, "flatchoices", None) or []) if field is not None else {}
    return str(choices.get(value, value))


def _change_rows(entry: Any) -> list[dict[str, Any]]:
    rows = []
    for name, values in (entry.changes_dict or {}).items():
        if name in HISTORY_HIDDEN_FIELDS or not isinstance(values, (list, tuple)) or len(values) != 2:
            continue
        old, new = values
        if _blank(old) and _blank(new):
            continue
        if name in HISTORY_HASH_FIELDS:
            label = Customer._meta.get_field(HISTORY_HASH_FIELDS[name]).verbose_name
            old = "" if _blank(old) else _("(on file)")
            new = "" if _blank(new) else _("(new number)")
        else:
            try:
                field = Customer._meta.get_field(name)
            except FieldDoesNotExist:  # a field since removed keeps its raw name
                label, field = name, None
            else:
                if not field.concrete:  # other apps' rows pointing here are not part of the record
                    continue
                label = field.verbose_name
            old, new = _logged_value(field, old), _logged_value(field, new)
        rows.append({"field": label, "old": old, "new": new})
    return rows


def _history(entries: Any) -> list[dict[str, Any]]:
    return [{"entry": entry, "changes": _change_rows(entry)} for entry in entries]


def _customer_360_context(request: HttpRequest, customer: Customer, *, consent_form: ConsentRecordForm | None = None) -> dict:
    """Everything on the 360, each part a bounded number of queries whatever the customer's history."""
    user = request.user
    context: dict[str, Any] = {
        "customer": customer,
        "documents": _documents(customer, visible=can_see_identity_documents(user)),
        "panels": registry.panels(request, customer),
        "special_assistance": _display_value(customer, "special_assistance", documents_visible=False),
        "travel_purposes": _display_value(customer, "travel_purposes", documents_visible=False),
    }
    if user.has_perm("crm.view_timelineentry"):
        context["timeline_page"] = _page(request, selectors.timeline_for_customer(customer=customer), TIMELINE_PAGE_SIZE)
    if user.has_perm("crm.view_consentevent"):
        context["consent_history"] = list(selectors.consent_history(customer=customer)[:CONSENT_HISTORY_PREVIEW])
    if user.has_perm("crm.add_consentevent"):
        context["consent_form"] = consent_form or ConsentRecordForm()
    if user.has_perm("crm.view_lead"):
        context["referrals"] = list(selectors.customer_referrals(customer=customer)[:RELATED_PREVIEW])
        context["converted_leads"] = list(selectors.customer_converted_leads(customer=customer)[:RELATED_PREVIEW])
    if user.has_perm("crm.view_customermerge"):
        context["merges"] = list(selectors.customer_merges(customer=customer)[:RELATED_PREVIEW])
    if user.has_perm("crm.change_customer"):
        context["history"] = _history(selectors.customer_change_history(customer=customer)[:HISTORY_PREVIEW])
    return context


# --- Login and dashboard --------------------------------------------------------------------


class OfficeLoginView(LoginView):
    template_name = "office/login.html"
    authentication_form = OfficeAuthenticationForm
    next_page = reverse_lazy("office:home")


# Roles whose work starts at the customer desk; other roles land on the page their app names as their home.
DESK_ROLES = frozenset({AGENT, SUPERVISOR, ADMINISTRATOR})


class HomeView(OfficeView):
    permission_required = ()

    def get(self, request: HttpRequest) -> HttpResponse:
        roles = roles_of(request.user)
        if not request.user.is_superuser and not roles & DESK_ROLES:
            home = registry.home_item(registry.OFFICE, request.user, roles)
            if home is not None:
                return redirect(home.url_name)
        context: dict[str, Any] = {
            "search_form": CustomerSearchForm(),
            "recent": selectors.customer_recently_viewed(user=request.user, limit=RECENTLY_VIEWED),
        }
        if request.user.has_perm("crm.view_lead"):
            counts = selectors.lead_counts_by_status()
            context["lead_counts"] = [(value, label, counts[value]) for value, label in LeadStatus.choices]
            context["open_leads"] = sum(counts[s] for s in (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED))
        return render(request, "office/home.html", context)


# --- Customers ------------------------------------------------------------------------------


class CustomerSearchView(OfficeView):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = CustomerSearchForm(request.GET or None)
        query, results = "", []
        if form.is_bound and form.is_valid():
            query = form.cleaned_data["q"].strip()
            if query:
                results = selectors.customer_search(
                    query=query, limit=SEARCH_LIMIT, by_documents=can_see_identity_documents(request.user)
                )
        context = {"form": form, "query": query, "results": results, "limit": SEARCH_LIMIT}
        return render(request, "office/crm/customer_search.html", context)


def _customer_form(request: HttpRequest, data: Any = None, customer: Customer | None = None) -> OfficeCustomerForm:
    visible = can_see_identity_documents(request.user)
    fields = [f for f in services.EDITABLE_FIELDS if visible or f not in IDENTITY_NUMBER_FIELDS]
    return OfficeCustomerForm(data, fields=fields, customer=customer)


class CustomerCreateView(OfficeView):
    permission_required = ("crm.view_customer", "crm.add_customer")
    template_name = "office/crm/customer_form.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": _customer_form(request)})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = _customer_form(request, request.POST)
        if form.is_valid():
            try:
                customer = services.customer_create(data=dict(form.cleaned_data), by=request.user)
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(request, _("Customer %(number)s created.") % {"number": customer.customer_number})
                return redirect("office:customer_detail", customer_number=customer.customer_number)
        return render(request, self.template_name, {"form": form})


class CustomerEditView(OfficeView):
    permission_required = ("crm.view_customer", "crm.change_customer")
    template_name = "office/crm/customer_form.html"

    def _render(self, request: HttpRequest, customer: Customer, form: OfficeCustomerForm) -> HttpResponse:
        visible = can_see_identity_documents(request.user)
        context = {"form": form, "customer": customer, "masked_documents": [] if visible else _documents(customer, visible=False)}
        return render(request, self.template_name, context)

    def get(self, request: HttpRequest, customer_number: str) -> HttpResponse:
        customer = _customer_or_404(customer_number)
        _record_access(request, customer)
        return self._render(request, customer, _customer_form(request, customer=customer))

    def post(self, request: HttpRequest, customer_number: str) -> HttpResponse:
        customer = _customer_or_404(customer_number)
        _record_access(request, customer)
        form = _customer_form(request, request.POST, customer=customer)
        if form.is_valid():
            changed = {name: form.cleaned_data[name] for name in form.changed_data}
            if not changed:
                messages.info(request, _("Nothing was changed."))
                return redirect("office:customer_detail", customer_number=customer.customer_number)
            try:
                services.customer_update(customer=customer, data=changed, by=request.user)
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(request, _("Customer %(number)s saved.") % {"number": customer.customer_number})
                return redirect("office:customer_detail", customer_number=customer.customer_number)
        return self._render(request, customer, form)


class CustomerDetailView(OfficeView):
    """The customer 360."""

    def get(self, request: HttpRequest, customer_number: str) -> HttpResponse:
        customer = _customer_or_404(customer_number)
        _record_access(request, customer)
        return render(request, "office/crm/customer_detail.html", _customer_360_context(request, customer))


class CustomerConsentView(OfficeView):
    """An agent records a consent the customer gave or withdrew by phone or at a desk."""

    permission_required = ("crm.view_customer", "crm.add_consentevent")
    http_method_names = ["post"]

    def post(self, request: HttpRequest, customer_number: str) -> HttpResponse:
        customer = _customer_or_404(customer_number)
        _record_access(request, customer)
        form = ConsentRecordForm(request.POST)
        if form.is_valid():
            try:
                services.consent_record(
                    customer=customer,
                    channel=form.cleaned_data["channel"],
                    purpose=form.cleaned_data["purpose"],
                    granted=form.cleaned_data["answer"] == "granted",
                    source=ConsentSource.OFFICE,
                    method=form.cleaned_data["method"],
                    by=request.user,
                )
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(request, _("Consent recorded."))
                url = reverse("office:customer_detail", kwargs={"customer_number": customer.customer_number})
                return HttpResponseRedirect(f"{url}#consent")
        context = _customer_360_context(request, customer, consent_form=form)
        return render(request, "office/crm/customer_detail.html", context)


class CustomerTimelineView(OfficeView):
    permission_required = ("crm.view_customer", "crm.view_timelineentry")

    def get(self, request: HttpRequest, customer_number: str) -> HttpResponse:
        customer = _customer_or_404(customer_number)
        _record_access(request, customer)
        page = _page(request, selectors.timeline_for_customer(customer=customer), TIMELINE_PAGE_SIZE)
        return render(request, "office/crm/customer_timeline.html", {"customer": customer, "timeline_page": page})


class CustomerHistoryView(OfficeView):
    """Who changed what on the record, from what to what."""

    permission_required = ("crm.view_customer", "crm.change_customer")

    def get(self, request: HttpRequest, customer_number: str) -> HttpResponse:
        customer = _customer_or_404(customer_number)
        _record_access(request, customer)
        page = _page(request, selectors.customer_change_history(customer=customer), HISTORY_PAGE_SIZE)
        context = {"customer": customer, "page_obj": page, "history": _history(page.object_list)}
        return render(request, "office/crm/customer_history.html", context)


# --- Duplicates -----------------------------------------------------------------------------


class DuplicatesView(OfficeView):
    permission_required = ("crm.view_customer", "crm.merge_customer")

    def get(self, request: HttpRequest) -> HttpResponse:
        older_than = request.GET.get("older_than")
        if older_than is not None and not (older_than.isascii() and older_than.isdigit() and len(older_than) < 19):
            messages.warning(request, _("That place in the list does not exist; the newest customers are shown."))
            older_than = None
        scan = selectors.customer_duplicate_candidates(older_than=int(older_than) if older_than else None)
        pairs = []
        for a, b, reason in scan.pairs:
            reasons = [label for key, label in DUPLICATE_REASONS.items() if key in reason] or [reason]
            pairs.append((a, b, reasons))
        context = {
            "pairs": pairs,
            "scan": scan,
            "continued": bool(older_than),
            "older_than": older_than or "",
            "pick_form": DuplicatePairForm(),
            "distinct_pairs": selectors.distinct_pairs_recent(limit=DISTINCT_PAIRS_SHOWN),
        }
        return render(request, "office/crm/duplicates.html", context)


def _back_to_review(request: HttpRequest) -> HttpResponse:
    """Back to the place in the review the supervisor came from."""
    older_than = request.POST.get("older_than", "")
    url = reverse("office:duplicates")
    if older_than.isascii() and older_than.isdigit() and len(older_than) < 19:
        url = f"{url}?older_than={older_than}"
    return HttpResponseRedirect(url)


class DuplicateDistinctView(OfficeView):
    """ "Not a duplicate": the supervisor found two people, and the review stops proposing the pair."""

    permission_required = ("crm.view_customer", "crm.merge_customer")
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        pick = DuplicatePairForm(request.POST)
        if not pick.is_valid():
            messages.error(request, _("Give two customer numbers."))
            return _back_to_review(request)
        a, b = _customer_or_404(pick.cleaned_data["a"]), _customer_or_404(pick.cleaned_data["b"])
        try:
            services.customer_pair_mark_distinct(a=a, b=b, by=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("%(a)s and %(b)s are marked as different people; the review will not propose them again.")
                % {"a": a.customer_number, "b": b.customer_number},
            )
        return _back_to_review(request)


class DuplicateDistinctUndoView(OfficeView):
    permission_required = ("crm.view_customer", "crm.merge_customer")
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pair_id: int) -> HttpResponse:
        try:
            pair = services.customer_pair_undo_distinct(pair_id=pair_id, by=request.user)
        except NotFound:
            raise Http404("No such pair.") from None
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("%(a)s and %(b)s are back in the review.") % {"a": pair.older.customer_number, "b": pair.newer.customer_number},
            )
        return _back_to_review(request)


# Rows of the side-by-side comparison, in the order an agent reads a record.
MERGE_COMPARE_FIELDS = (
    "title", "given_name", "family_name", "gender", "date_of_birth", "nationality", "email", "phone",
    "preferred_language", "address_line1", "address_line2", "city", "region", "postal_code", "country",
    "national_id_number", "passport_number", "passport_expiry", "passport_country", "meal_preference",
    "seat_preference", "special_assistance", "preferred_cabin", "home_airport", "travel_purposes",
    "emergency_contact_name", "emergency_contact_phone", "emergency_contact_relationship", "created_at",
)  # fmt: skip


def _display_value(customer: Customer, name: str, *, documents_visible: bool) -> str:
    value = getattr(customer, name)
    if name in IDENTITY_NUMBER_FIELDS:
        return (value or "") if documents_visible else mask(value)
    field = Customer._meta.get_field(name)
    if isinstance(value, list):
        choices = dict(field.base_field.flatchoices) if hasattr(field, "base_field") else {}
        return ", ".join(str(choices.get(v, v)) for v in value)
    if isinstance(value, Country):
        return str(value.name) if value.code else ""
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, date):
        return formats.date_format(value, "DATE_FORMAT")
    if getattr(field, "choices", None):
        return str(dict(field.flatchoices).get(value, value or ""))
    return "" if value in (None, "") else str(value)


class CustomerMergeView(OfficeView):
    """Compare two records side by side; the supervisor picks the survivor and confirms."""

    permission_required = ("crm.view_customer", "crm.merge_customer")
    template_name = "office/crm/customer_merge.html"

    def _pair(self, request: HttpRequest) -> tuple[Customer, Customer]:
        pick = DuplicatePairForm(request.GET)
        if not pick.is_valid():
            raise Http404("Give two customer numbers.")
        return _customer_or_404(pick.cleaned_data["a"]), _customer_or_404(pick.cleaned_data["b"])

    def _render(self, request: HttpRequest, a: Customer, b: Customer, form: CustomerMergeForm) -> HttpResponse:
        visible = can_see_identity_documents(request.user)
        rows = []
        for name in MERGE_COMPARE_FIELDS:
            left = _display_value(a, name, documents_visible=visible)
            right = _display_value(b, name, documents_visible=visible)
            rows.append({"label": Customer._meta.get_field(name).verbose_name, "a": left, "b": right, "differ": left != right})
        context = {
            "a": a,
            "b": b,
            "rows": rows,
            "counts": [selectors.customer_related_counts(customer=c) for c in (a, b)],
            "form": form,
        }
        return render(request, self.template_name, context)

    def get(self, request: HttpRequest) -> HttpResponse:
        a, b = self._pair(request)
        if a.pk == b.pk:
            messages.error(request, _("Pick two different customers to merge."))
            return redirect("office:duplicates")
        for customer in (a, b):
            _record_access(request, customer)
        # Suggest keeping the record with the portal login, else the older one.
        suggested = sorted((a, b), key=lambda c: (c.user_id is None, c.created_at, c.pk))[0]
        form = CustomerMergeForm(customers=(a, b), initial={"survivor": suggested.customer_number})
        return self._render(request, a, b, form)

    def post(self, request: HttpRequest) -> HttpResponse:
        a, b = self._pair(request)
        form = CustomerMergeForm(request.POST, customers=(a, b))
        if form.is_valid():
            survivor, loser = (a, b) if form.cleaned_data["survivor"] == a.customer_number else (b, a)
            try:
                services.customer_merge(survivor=survivor, loser=loser, by=request.user)
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(
                    request,
                    _("%(loser)s was merged into %(survivor)s.")
                    % {"loser": loser.customer_number, "survivor": survivor.customer_number},
                )
                return redirect("office:customer_detail", customer_number=survivor.customer_number)
        return self._render(request, a, b, form)


# --- Leads ----------------------------------------------------------------------------------


class LeadListView(OfficeView):
    """The pipeline: one column per status, newest first; one status at a time when ?status= is given."""

    permission_required = ("crm.view_lead",)

    def get(self, request: HttpRequest) -> HttpResponse:
        form = LeadFilterForm(request.GET or None)
        source = status = ""
        if form.is_bound and form.is_valid():
            source, status = form.cleaned_data["source"], form.cleaned_data["status"]
        counts = selectors.lead_counts_by_status(source=source)
        context: dict[str, Any] = {"form": form, "source": source, "status": status, "total": sum(counts.values())}
        if status:
            queryset = selectors.lead_list(status=status)
            if source:
                queryset = queryset.filter(source=source)
            context["status_label"] = LeadStatus(status).label
            context["page_obj"] = _page(request, queryset.order_by("-created_at", "-id"), LEAD_PAGE_SIZE)
        else:
            board = selectors.lead_pipeline(source=source, per_status=LEADS_PER_COLUMN)
            context["columns"] = [
                {"status": value, "label": label, "count": counts[value], "leads": board.get(value, [])}
                for value, label in LeadStatus.choices
            ]
        return render(request, "office/crm/lead_list.html", context)


class LeadConvertedView(OfficeView):
    """Which of marketing's leads and customers' referrals became customers, and who they are now."""

    permission_required = ("crm.view_lead",)

    def get(self, request: HttpRequest) -> HttpResponse:
        form = LeadFilterForm(request.GET or None)
        source = ""
        if form.is_bound and form.is_valid():
            source = form.cleaned_data["source"]
        page = _page(request, selectors.lead_converted_list(source=source), LEAD_PAGE_SIZE)
        return render(request, "office/crm/lead_converted.html", {"form": form, "page_obj": page, "source": source})


class LeadCreateView(OfficeView):
    permission_required = ("crm.view_lead", "crm.add_lead")
    template_name = "office/crm/lead_form.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        initial: dict[str, Any] = {}
        referrer = normalize_customer_number(request.GET.get("referred_by", ""))
        if referrer:
            initial = {"referred_by": referrer, "source": LeadSource.REFERRAL}
        return render(request, self.template_name, {"form": LeadForm(initial=initial)})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = LeadForm(request.POST)
        if form.is_valid():
            try:
                lead = services.lead_create(data=dict(form.cleaned_data), by=request.user)
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(request, _("Lead %(name)s handed to sales.") % {"name": str(lead)})
                return redirect("office:lead_detail", lead_id=lead.pk)
        return render(request, self.template_name, {"form": form})


def _lead_detail(
    request: HttpRequest,
    lead: Lead,
    *,
    advance_form: LeadAdvanceForm | None = None,
    convert_form: LeadConvertForm | None = None,
    note_form: LeadNoteForm | None = None,
) -> HttpResponse:
    lead = _lead_or_404(lead.pk)  # fresh, whatever a refused action left on the instance
    context: dict[str, Any] = {"lead": lead, "notes": list(selectors.lead_notes(lead=lead))}
    if request.user.has_perm("crm.change_lead"):
        # A refused form is always shown with its errors; a fresh one only where the move is possible.
        allowed = sorted(services.LEAD_TRANSITIONS.get(LeadStatus(lead.status), set()) - {LeadStatus.CONVERTED})
        if advance_form is not None or allowed:
            context["advance_form"] = advance_form or LeadAdvanceForm(allowed=allowed)
        if convert_form is not None or lead.status not in (LeadStatus.CONVERTED, LeadStatus.LOST):
            context["convert_form"] = convert_form or LeadConvertForm()
        context["note_form"] = note_form or LeadNoteForm()
    return render(request, "office/crm/lead_detail.html", context)


class LeadDetailView(OfficeView):
    permission_required = ("crm.view_lead",)

    def get(self, request: HttpRequest, lead_id: int) -> HttpResponse:
        return _lead_detail(request, _lead_or_404(lead_id))


class LeadAdvanceView(OfficeView):
    permission_required = ("crm.view_lead", "crm.change_lead")
    http_method_names = ["post"]

    def post(self, request: HttpRequest, lead_id: int) -> HttpResponse:
        lead = _lead_or_404(lead_id)
        allowed = services.LEAD_TRANSITIONS.get(LeadStatus(lead.status), set()) - {LeadStatus.CONVERTED}
        form = LeadAdvanceForm(request.POST, allowed=allowed)
        if form.is_valid():
            try:
                lead = services.lead_advance(
                    lead=lead,
                    to_status=form.cleaned_data["status"],
                    note=form.cleaned_data["note"],
                    lost_reason=form.cleaned_data["lost_reason"],
                    by=request.user,
                )
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(request, _("The lead is now %(status)s.") % {"status": lead.get_status_display()})
                return redirect("office:lead_detail", lead_id=lead.pk)
        return _lead_detail(request, lead, advance_form=form)


class LeadConvertView(OfficeView):
    permission_required = ("crm.view_lead", "crm.change_lead")
    http_method_names = ["post"]

    def post(self, request: HttpRequest, lead_id: int) -> HttpResponse:
        lead = _lead_or_404(lead_id)
        form = LeadConvertForm(request.POST)
        if form.is_valid():
            try:
                lead = services.lead_convert(lead=lead, customer=form.cleaned_data["customer"], by=request.user)
            except ApplicationError as exc:
                add_application_error(form, exc, field_map={"customer_number": "customer"})
            else:
                messages.success(
                    request,
                    _("The lead became customer %(number)s.") % {"number": lead.converted_customer.customer_number},
                )
                return redirect("office:lead_detail", lead_id=lead.pk)
        return _lead_detail(request, lead, convert_form=form)


class LeadNoteView(OfficeView):
    permission_required = ("crm.view_lead", "crm.change_lead")
    http_method_names = ["post"]

    def post(self, request: HttpRequest, lead_id: int) -> HttpResponse:
        lead = _lead_or_404(lead_id)
        form = LeadNoteForm(request.POST)
        if form.is_valid():
            try:
                services.lead_note_add(lead=lead, text=form.cleaned_data["text"], by=request.user)
            except ApplicationError as exc:
                add_application_error(form, exc)
            else:
                messages.success(request, _("Note added."))
                return redirect("office:lead_detail", lead_id=lead.pk)
        return _lead_detail(request, lead, note_form=form)


# --- Audit ----------------------------------------------------------------------------------


class AccessLogView(OfficeView):
    """Every staff look at a customer, and every change or action sent to their record: who, when, which
    customer, through which page or endpoint."""

    permission_required = ("crm.view_customeraccess",)

    def get(self, request: HttpRequest) -> HttpResponse:
        form = AccessLogFilterForm(request.GET or None)
        customer_number = username = action = ""
        if form.is_bound and form.is_valid():
            customer_number, username = form.cleaned_data["customer"], form.cleaned_data["user"].strip()
            action = form.cleaned_data["action"]
        queryset = selectors.access_log_search(customer_number=customer_number, username=username, action=action)
        if form.is_bound and not form.is_valid():
            queryset = queryset.none()
        page = _page(request, queryset, ACCESS_LOG_PAGE_SIZE)
        return render(request, "office/crm/access_log.html", {"form": form, "page_obj": page, "customer_number": customer_number})
