"""Office forms: segments (rules as rows of attribute / comparison / value, joined by AND or OR) and offers."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm import registry
from crm.models import Cabin
from crm.validation import validate_single_line_text
from marketing.models import ISSUE_MAX, MarketingChannel, OfferKind, StaticList

# --- Offers and promo codes -----------------------------------------------------------------------


def _codes(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


class OfferForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    kind = forms.ChoiceField(label=_("Kind"), choices=OfferKind.choices)
    value = forms.DecimalField(
        label=_("Value"), max_digits=12, decimal_places=2, min_value=0,
        help_text=_("Percent off, amount off in the currency, or whole bonus miles."),
    )  # fmt: skip
    currency = forms.CharField(label=_("Currency"), max_length=3, required=False, help_text=_("e.g. EUR"))
    minimum_spend = forms.DecimalField(label=_("Minimum spend"), max_digits=12, decimal_places=2, min_value=0, initial=0)
    valid_from = forms.DateTimeField(label=_("Valid from"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    valid_until = forms.DateTimeField(label=_("Valid until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    origins = forms.CharField(
        label=_("Origin airports"), required=False, help_text=_("Codes separated by spaces; empty for any.")
    )
    destinations = forms.CharField(
        label=_("Destination airports"), required=False, help_text=_("Codes separated by spaces; empty for any.")
    )
    routes = forms.CharField(label=_("Routes"), required=False, help_text=_("e.g. LHR-JFK CDG-LHR; empty for every route."))
    cabins = forms.MultipleChoiceField(
        label=_("Cabins"), choices=Cabin.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every cabin."),
    )  # fmt: skip
    is_partner_offer = forms.BooleanField(label=_("Partner offer (hotel, car rental)"), required=False)
    partner_name = forms.CharField(label=_("Partner name"), max_length=120, required=False)
    partner_url = forms.URLField(label=_("Partner link"), required=False, assume_scheme="https")

    def cleaned_for_service(self) -> dict:
        data = dict(self.cleaned_data)
        for name in ("origins", "destinations", "routes"):
            data[name] = _codes(data[name])
        data["minimum_spend"] = data["minimum_spend"] or 0
        return data


class IssueCodesForm(forms.Form):
    count = forms.IntegerField(label=_("Number of codes"), min_value=1, max_value=ISSUE_MAX)


ROWS = 6
LOOKUP_LABELS = {
    "exact": _("is"),
    "iexact": _("is (any case)"),
    "icontains": _("contains the text"),
    "gt": _("is more than / after"),
    "gte": _("is at least / on or after"),
    "lt": _("is less than / before"),
    "lte": _("is at most / on or before"),
    "in": _("is one of (comma-separated)"),
    "isnull": _("is unknown (true / false)"),
    "contains": _("includes all of (comma-separated)"),
    "overlap": _("includes any of (comma-separated)"),
    "len": _("has this many items"),
}
COMBINE = (("all", _("all the rules (AND)")), ("any", _("any of the rules (OR)")))


def _attribute_choices() -> list[tuple[str, Any]]:
    return [("", "—"), *((a.key, f"{a.label} · {a.app}") for a in registry.attributes())]


class ConditionForm(forms.Form):
    attribute = forms.ChoiceField(label=_("Attribute"), required=False)
    lookup = forms.ChoiceField(label=_("Comparison"), required=False, choices=[("", "—"), *LOOKUP_LABELS.items()])
    value = forms.CharField(label=_("Value"), required=False, max_length=2000)
    param = forms.IntegerField(
        label=_("Months"), required=False, min_value=0, max_value=100000,
        help_text=_("Only for attributes counted over a period (e.g. flights in the last N months)."),
    )  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["attribute"].choices = _attribute_choices()

    def rule(self) -> dict | None:
        data = self.cleaned_data
        if not data.get("attribute"):
            return None
        rule: dict[str, Any] = {
            "attribute": data["attribute"],
            "lookup": data.get("lookup") or "",
            "value": data.get("value", ""),
        }
        attribute = next((a for a in registry.attributes() if a.key == data["attribute"]), None)
        if attribute is not None and attribute.params and data.get("param") is not None:
            rule["params"] = {attribute.params[0].name: data["param"]}
        return rule


ConditionFormSet = forms.formset_factory(ConditionForm, extra=0, max_num=40, absolute_max=40)


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120, validators=[validate_single_line_text])
    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    consent_channel = forms.ChoiceField(
        label=_("Channel"), choices=MarketingChannel.choices, initial=MarketingChannel.EMAIL,
        help_text=_("Only customers who agreed to marketing on this channel are ever in the segment."),
    )  # fmt: skip
    combine = forms.ChoiceField(label=_("Customers matching"), choices=COMBINE, initial="all")
    static_list = forms.ModelChoiceField(
        label=_("In the static list"), queryset=StaticList.objects.order_by("name"), required=False,
        help_text=_("One more rule: the customer is in this imported list."),
    )  # fmt: skip
    rules_json = forms.CharField(
        label=_("Advanced: rules as JSON"), required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For nested groups. When filled in, it replaces the rows above."),
    )  # fmt: skip

    def clean_rules_json(self) -> Any:
        text = self.cleaned_data.get("rules_json", "").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise forms.ValidationError(_("This is not valid JSON.")) from None


def rules_from(form: SegmentForm, conditions: forms.BaseFormSet) -> tuple[Any, list[int]]:
    """The rule tree the forms describe, and for each rule the row it came from (to show errors there)."""
    if form.cleaned_data.get("rules_json") is not None:
        return form.cleaned_data["rules_json"], []
    rules, rows = [], []
    for index, row in enumerate(conditions.forms):
        rule = row.rule() if row.is_valid() else None
        if rule is not None:
            rules.append(rule)
            rows.append(index)
    if form.cleaned_data.get("static_list") is not None:
        rules.append({"list": form.cleaned_data["static_list"].pk})
    return {form.cleaned_data.get("combine") or "all": rules}, rows


def initial_from(rules: dict) -> tuple[dict, list[dict]]:
    """The forms' initial data for a segment's rules; nested groups go to the JSON field."""
    combine = next(iter(rules), "all") if isinstance(rules, dict) else "all"
    children = rules.get(combine, []) if isinstance(rules, dict) else []
    flat = all(isinstance(c, dict) and ("attribute" in c or "list" in c) for c in children)
    lists = [c["list"] for c in children if isinstance(c, dict) and "list" in c]
    if not flat or len(lists) > 1:
        return {"combine": combine, "rules_json": json.dumps(rules, indent=2)}, []
    rows = []
    for c in children:
        if "attribute" not in c:
            continue
        value = c.get("value")
        text = (
            ", ".join(str(v) for v in value)
            if isinstance(value, list)
            else ("true" if value is True else "false" if value is False else str(value))
        )
        params = c.get("params") or {}
        rows.append(
            {"attribute": c["attribute"], "lookup": c["lookup"], "value": text, "param": next(iter(params.values()), None)}
        )
    return {"combine": combine, "static_list": lists[0] if lists else None}, rows


class StaticListUploadForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120, validators=[validate_single_line_text])
    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "One customer per row: a customer number or an e-mail address in the first column. At most 20,000 rows, 2 MB."
        ),
    )


# --- The passenger's marketing preferences (portal) ------------------------------------------------


class MarketingPreferencesForm(forms.Form):
    """Marketing consent per channel and the language of our messages; unticked means no."""

    email = forms.BooleanField(label=_("E-mail"), required=False, help_text=_("Offers and news by e-mail."))
    sms = forms.BooleanField(label=_("SMS"), required=False, help_text=_("Offers by text message to your phone."))
    push = forms.BooleanField(label=_("Push notifications"), required=False, help_text=_("Offers as notifications in our app."))
    preferred_language = forms.ChoiceField(label=_("Language of our messages"), choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from crm.forms.accounts import portal_language_choices

        super().__init__(*args, **kwargs)
        self.fields["preferred_language"].choices = portal_language_choices()

    def channels(self) -> dict[str, bool]:
        return {channel: bool(self.cleaned_data.get(channel)) for channel in MarketingChannel.values}
