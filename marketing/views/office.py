"""Office pages for marketers: segments (list, build, detail with a live count) and static list uploads."""

from __future__ import annotations

import json
import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from crm.errors import ApplicationError, NotFound
from crm.forms import add_application_error
from crm.permissions import StaffPermissionRequiredMixin
from marketing import selectors, services
from marketing.forms import ROWS, ConditionFormSet, SegmentForm, StaticListUploadForm, initial_from, rules_from
from marketing.models import Segment

PAGE_SIZE = 25
SEE = ("marketing.view_segment",)
ADD = (*SEE, "marketing.add_segment")
CHANGE = (*SEE, "marketing.change_segment")
_RULE_PATH = re.compile(r"^(rules(?:\.(?:all|any)\.\d+)+)\.(attribute|lookup|value|params)")


def _segment_or_404(segment_id: int) -> Segment:
    try:
        return selectors.segment_get(segment_id=segment_id)
    except NotFound:
        raise Http404("No such segment.") from None


def _forms(request: HttpRequest, segment: Segment | None = None) -> tuple[SegmentForm, ConditionFormSet]:
    if request.method == "POST":
        return SegmentForm(request.POST), ConditionFormSet(request.POST, prefix="rule")
    initial, rows = ({}, [])
    if segment is not None:
        initial, rows = initial_from(segment.rules)
        initial.update(name=segment.name, description=segment.description, consent_channel=segment.consent_channel)
    rows = rows + [{}] * max(ROWS - len(rows), 1)
    return SegmentForm(initial=initial), ConditionFormSet(initial=rows, prefix="rule")


def _show_error(error: ApplicationError, form: SegmentForm, conditions: ConditionFormSet, rows: dict[str, int]) -> None:
    """A refused rule shows beside its row (rules.all.2.value → row 3's value), the rest above the form."""

    def place(key: str):  # noqa: ANN202
        match = _RULE_PATH.match(key)
        if match and match[1] in rows:
            field = "param" if match[2] == "params" else match[2]
            return conditions.forms[rows[match[1]]], field
        if key.startswith("rules"):
            return (form, "rules_json") if form.cleaned_data.get("rules_json") is not None else (form, None)
        return None

    add_application_error(form, error, field_map={"consent_channel": "consent_channel"}, place=place)


class SegmentListView(StaffPermissionRequiredMixin, View):
    """Every segment with its size when last counted (counting them all on each visit would be slow)."""

    permission_required = SEE

    def get(self, request: HttpRequest) -> HttpResponse:
        page = Paginator(selectors.segments(), PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "office/marketing/segment_list.html", {"page_obj": page})


class _SegmentFormView(StaffPermissionRequiredMixin, View):
    def _render(
        self, request: HttpRequest, form: SegmentForm, conditions: ConditionFormSet, segment: Segment | None, status: int = 200
    ) -> HttpResponse:
        context = {"form": form, "conditions": conditions, "segment": segment}
        return render(request, "office/marketing/segment_form.html", context, status=status)

    def _save(self, request: HttpRequest, segment: Segment | None) -> HttpResponse:
        form, conditions = _forms(request, segment)
        if not (form.is_valid() and conditions.is_valid()):
            return self._render(request, form, conditions, segment, status=400)
        rules, rows = rules_from(form, conditions)
        data = form.cleaned_data
        try:
            if segment is None:
                segment = services.segment_create(
                    name=data["name"], description=data["description"], rules=rules,
                    consent_channel=data["consent_channel"], by=request.user,
                )  # fmt: skip
                messages.success(request, _("Segment created."))
            else:
                services.segment_update(
                    segment=segment, name=data["name"], description=data["description"], rules=rules,
                    consent_channel=data["consent_channel"],
                )  # fmt: skip
                messages.success(request, _("Segment saved."))
        except ApplicationError as error:
            _show_error(error, form, conditions, rows)
            return self._render(request, form, conditions, segment, status=400)
        return redirect("marketing_office:segment_detail", segment_id=segment.pk)


class SegmentCreateView(_SegmentFormView):
    permission_required = ADD

    def get(self, request: HttpRequest) -> HttpResponse:
        form, conditions = _forms(request)
        return self._render(request, form, conditions, None)

    def post(self, request: HttpRequest) -> HttpResponse:
        return self._save(request, None)


class SegmentEditView(_SegmentFormView):
    permission_required = CHANGE

    def get(self, request: HttpRequest, segment_id: int) -> HttpResponse:
        segment = _segment_or_404(segment_id)
        form, conditions = _forms(request, segment)
        return self._render(request, form, conditions, segment)

    def post(self, request: HttpRequest, segment_id: int) -> HttpResponse:
        return self._save(request, _segment_or_404(segment_id))


class SegmentDetailView(StaffPermissionRequiredMixin, View):
    """A segment's rules, how many customers it reaches now and the first ten of them."""

    permission_required = SEE

    def get(self, request: HttpRequest, segment_id: int) -> HttpResponse:
        segment = _segment_or_404(segment_id)
        try:
            preview, problem = services.segment_preview(rules=segment.rules, channel=segment.consent_channel), ""
        except ApplicationError as error:  # a static list or an attribute it names has gone since it was saved
            preview, problem = services.Preview(count=0, sample=[]), error.message
        context = {
            "segment": segment,
            "preview": preview,
            "problem": problem,
            "rules_text": json.dumps(segment.rules, indent=2, ensure_ascii=False),
        }
        return render(request, "office/marketing/segment_detail.html", context)


class SegmentRecountView(StaffPermissionRequiredMixin, View):
    """Count a segment again and keep the figure for the list (a write: for those who may change segments)."""

    permission_required = CHANGE

    def post(self, request: HttpRequest, segment_id: int) -> HttpResponse:
        try:
            services.segment_recount(segment=_segment_or_404(segment_id))
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Segment counted again."))
        return redirect("marketing_office:segment_list")


class SegmentPreviewView(StaffPermissionRequiredMixin, View):
    """The live count of the segment form as it stands: ``{"count": n}`` or the error shape (reads only)."""

    permission_required = SEE

    def post(self, request: HttpRequest) -> JsonResponse:
        form, conditions = SegmentForm(request.POST), ConditionFormSet(request.POST, prefix="rule")
        form.is_valid()
        conditions.is_valid()
        if not hasattr(form, "cleaned_data") or "consent_channel" not in form.cleaned_data or "rules_json" in form.errors:
            return JsonResponse(
                {"error": {"code": "invalid", "message": _("Complete the form to see a count."), "fields": {}}}, status=400
            )
        rules, _rows = rules_from(form, conditions)
        try:
            count = services.segment_compile(rules=rules, channel=form.cleaned_data["consent_channel"]).count()
        except ApplicationError as error:
            body = {"code": error.code, "message": error.message, "fields": error.fields}
            return JsonResponse({"error": body}, status=400)
        return JsonResponse({"count": count})


class StaticListListView(StaffPermissionRequiredMixin, View):
    permission_required = ("marketing.view_staticlist",)

    def get(self, request: HttpRequest) -> HttpResponse:
        page = Paginator(selectors.static_lists(), PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "office/marketing/static_list_list.html", {"page_obj": page})


class StaticListUploadView(StaffPermissionRequiredMixin, View):
    """Upload a CSV; a file with any bad row imports nothing and shows each bad row with its reason."""

    permission_required = ("marketing.view_staticlist", "marketing.add_staticlist")

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "office/marketing/static_list_upload.html", {"form": StaticListUploadForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = StaticListUploadForm(request.POST, request.FILES)
        context: dict = {"form": form}
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > services.lists.MAX_BYTES:
                form.add_error("file", _("The file is too large."))
            else:
                try:
                    static_list = services.static_list_import(
                        name=form.cleaned_data["name"], description=form.cleaned_data["description"],
                        content=upload.read(), filename=upload.name or "", by=request.user,
                    )  # fmt: skip
                except services.ImportRejected as rejected:
                    form.add_error(None, rejected.message)
                    context.update(report=rejected.errors, total=rejected.total)
                except ApplicationError as error:
                    add_application_error(form, error)
                else:
                    messages.success(
                        request,
                        ngettext("%(count)d customer imported.", "%(count)d customers imported.", static_list.size)
                        % {"count": static_list.size},
                    )
                    return redirect("marketing_office:static_list_list")
        return render(request, "office/marketing/static_list_upload.html", context, status=400)
