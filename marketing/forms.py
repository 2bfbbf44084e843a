"""Office forms: segments (rules as rows of attribute / comparison / value, joined by AND or OR) and offers."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm import registry
from crm.models import Cabin
from crm.validation import validate_single_line_text
from marketing import models as marketing_models
from marketing.models import ISSUE_MAX, MarketingChannel, OfferKind, StaticList

# --- Offers and promo codes -----------------------------------------------------------------------


def _codes(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


class OfferForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("what a thing is called", "Name"), max_length=120)
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
COMBINE_GROUPS = (("any", _("any group (OR)")), ("all", _("every group (AND)")))
GROUPS = 4


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
    group = forms.TypedChoiceField(
        label=_("Group"), required=False, coerce=int, empty_value=1, initial=1,
        choices=[(n, str(n)) for n in range(1, GROUPS + 1)],
        help_text=_("Rows in the same group are combined first; groups are then combined with each other."),
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
    name = forms.CharField(
        label=pgettext_lazy("what a thing is called", "Name"), max_length=120, validators=[validate_single_line_text]
    )
    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    consent_channel = forms.ChoiceField(
        label=_("Channel"), choices=MarketingChannel.choices, initial=MarketingChannel.EMAIL,
        help_text=_("Only customers who agreed to marketing on this channel are ever in the segment."),
    )  # fmt: skip
    combine = forms.ChoiceField(label=_("Customers matching"), choices=COMBINE, initial="all")
    combine_groups = forms.ChoiceField(
        label=_("When rows are in several groups, customers in"), choices=COMBINE_GROUPS, initial="any", required=False,
        help_text=_("For example (French AND Paris) OR (British AND London): two groups, rows matching all, any group."),
    )  # fmt: skip
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


def rules_from(form: SegmentForm, conditions: forms.BaseFormSet) -> tuple[Any, dict[str, int]]:
    """The rule tree the forms describe, and for each rule's path the row it came from (to show errors there).

    Rows of one group are combined with ``combine``; several groups with ``combine_groups``; the static
    list, if any, is one more condition every customer must meet.
    """
    if form.cleaned_data.get("rules_json") is not None:
        return form.cleaned_data["rules_json"], {}
    inner = form.cleaned_data.get("combine") or "all"
    outer = form.cleaned_data.get("combine_groups") or "any"
    groups: dict[int, list[tuple[int, dict]]] = {}
    for index, row in enumerate(conditions.forms):
        rule = row.rule() if row.is_valid() else None
        if rule is not None:
            groups.setdefault(row.cleaned_data.get("group") or 1, []).append((index, rule))
    static_list = form.cleaned_data.get("static_list")
    if len(groups) <= 1:
        members = next(iter(groups.values()), [])
        rules = [rule for _index, rule in members]
        rows = {f"rules.{inner}.{n}": index for n, (index, _rule) in enumerate(members)}
        if static_list is not None:
            rules.append({"list": static_list.pk})
        return {inner: rules}, rows
    tree: list[dict] = []
    rows = {}
    prefix = f"rules.all.0.{outer}" if static_list is not None else f"rules.{outer}"
    for g, (_group, members) in enumerate(sorted(groups.items())):
        tree.append({inner: [rule for _index, rule in members]})
        rows.update({f"{prefix}.{g}.{inner}.{n}": index for n, (index, _rule) in enumerate(members)})
    if static_list is not None:
        return {"all": [{outer: tree}, {"list": static_list.pk}]}, rows
    return {outer: tree}, rows


def _row(rule: dict, group: int) -> dict:
    value = rule.get("value")
    text = (
        ", ".join(str(v) for v in value)
        if isinstance(value, list)
        else ("true" if value is True else "false" if value is False else str(value))
    )
    params = rule.get("params") or {}
    return {
        "attribute": rule["attribute"], "lookup": rule["lookup"], "value": text,
        "param": next(iter(params.values()), None), "group": group,
    }  # fmt: skip


def _is_rule(node: Any) -> bool:
    return isinstance(node, dict) and "attribute" in node


def _combiner(node: Any) -> str | None:
    if isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("all", "any"):
        return next(iter(node))
    return None


def initial_from(rules: dict) -> tuple[dict, list[dict]]:
    """The forms' initial data for a segment's rules: one level of rows, or groups of rows one level down
    (the shapes ``rules_from`` writes); any other tree goes to the JSON field."""
    as_json = {"combine": _combiner(rules) or "all", "rules_json": json.dumps(rules, indent=2)}
    top = _combiner(rules)
    if top is None:
        return as_json, []
    children = rules[top]
    lists = [c["list"] for c in children if isinstance(c, dict) and "list" in c]
    others = [c for c in children if not (isinstance(c, dict) and "list" in c)]
    if len(lists) > 1:
        return as_json, []
    if all(_is_rule(c) for c in others):
        return {"combine": top, "static_list": lists[0] if lists else None}, [_row(c, 1) for c in others]
    # Groups: {outer: [{inner: rows}, ...]}, possibly with a static list beside them under "all".
    outer, groups = top, others
    if lists and top == "all" and len(others) == 1 and _combiner(others[0]):
        outer = _combiner(others[0])
        groups = others[0][outer]
    elif lists:
        return as_json, []
    inners = {_combiner(g) for g in groups}
    if len(inners) != 1 or None in inners or len(groups) > GROUPS:
        return as_json, []
    inner = inners.pop()
    if not all(_is_rule(r) for g in groups for r in g[inner]):
        return as_json, []
    rows = [_row(r, n) for n, g in enumerate(groups, start=1) for r in g[inner]]
    return {"combine": inner, "combine_groups": outer, "static_list": lists[0] if lists else None}, rows


class StaticListUploadForm(forms.Form):
    name = forms.CharField(
        label=pgettext_lazy("what a thing is called", "Name"), max_length=120, validators=[validate_single_line_text]
    )
    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "One customer per row: a customer number or an e-mail address in the first column. At most 20,000 rows, 2 MB."
        ),
    )


# --- Campaigns ------------------------------------------------------------------------------------

# What each kind of campaign needs besides its content; the rest of the schedule fields are cleared.
KIND_FIELDS = {
    marketing_models.CampaignKind.ONE_OFF: ("send_at",),
    marketing_models.CampaignKind.BIRTHDAY: ("send_time", "starts_on", "ends_on"),
    marketing_models.CampaignKind.RECURRING: ("send_time", "repeat", "starts_on", "ends_on"),
    marketing_models.CampaignKind.TRIGGERED: ("trigger", "trigger_days", "starts_on", "ends_on"),
}
SCHEDULE_FIELDS = ("send_at", "send_time", "repeat", "trigger", "trigger_days", "starts_on", "ends_on")
CONTENT_NAMES = tuple(
    f"{part}_{language}{variant}" for variant in ("", "_b") for language in ("en", "zh") for part in ("subject", "text", "html")
)
# The personal fields a campaign's templates may use (marketing.services.message_values), for the form's help box.
TEMPLATE_FIELDS = (
    ("name", _("given name")),
    ("family_name", _("family name")),
    ("tier", _("frequent-flyer tier")),
    ("miles", _("award miles balance")),
    ("home_airport", _("home airport code")),
    ("destination", _("recommended destination")),
    ("offer_code", _("the customer's promo code")),
    ("offer_name", _("the offer's name")),
    ("partner_link", _("the partner's link")),
)


def _text(label: Any, *, rows: int = 0, required: bool = False, max_length: int | None = None) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput()
    return forms.CharField(label=label, required=required, max_length=max_length, widget=widget, strip=False)


class CampaignForm(forms.Form):
    """A campaign's audience, schedule, content in English and Chinese, optional variant B, offer and costs.

    The fields a kind needs are checked here, beside the field; the services check the rest (templates,
    dates, shares) and their refusals are shown beside the field they name.
    """

    name = forms.CharField(
        label=pgettext_lazy("what a thing is called", "Name"), max_length=120, validators=[validate_single_line_text]
    )
    segment = forms.ModelChoiceField(label=_("Segment"), queryset=marketing_models.Segment.objects.order_by("name", "pk"))
    channel = forms.ChoiceField(
        label=_("Channel"), choices=marketing_models.MarketingChannel.choices, initial=marketing_models.MarketingChannel.EMAIL
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=marketing_models.CampaignKind.choices, initial=marketing_models.CampaignKind.ONE_OFF
    )
    send_at = forms.DateTimeField(
        label=_("Send at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Your local date and time."),
    )  # fmt: skip
    send_time = forms.TimeField(
        label=_("Local send time"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("In each customer's time zone (their home airport's)."),
    )  # fmt: skip
    repeat = forms.ChoiceField(label=_("Repeat"), required=False, choices=[("", "—"), *marketing_models.CampaignRepeat.choices])
    starts_on = forms.DateField(
        label=_("First day"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    ends_on = forms.DateField(
        label=_("Last day"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Empty: until it is completed."),
    )  # fmt: skip
    trigger = forms.ChoiceField(
        label=_("Trigger"), required=False, choices=[("", "—"), *marketing_models.CampaignTrigger.choices]
    )
    trigger_days = forms.IntegerField(
        label=_("Days"), required=False, min_value=0, max_value=3650,
        help_text=_("How many days before (expiry) or after (the event) the message goes; 0 for the same day."),
    )  # fmt: skip
    subject_en = _text(_("Subject (English)"), required=True, max_length=200)
    text_en = _text(_("Text (English)"), rows=6, required=True)
    html_en = _text(_("HTML (English)"), rows=6)
    subject_zh = _text(_("Subject (Chinese)"), max_length=200)
    text_zh = _text(_("Text (Chinese)"), rows=6)
    html_zh = _text(_("HTML (Chinese)"), rows=6)
    subject_en_b = _text(_("Subject B (English)"), max_length=200)
    text_en_b = _text(_("Text B (English)"), rows=4)
    html_en_b = _text(_("HTML B (English)"), rows=4)
    subject_zh_b = _text(_("Subject B (Chinese)"), max_length=200)
    text_zh_b = _text(_("Text B (Chinese)"), rows=4)
    html_zh_b = _text(_("HTML B (Chinese)"), rows=4)
    variant_b_percent = forms.IntegerField(
        label=_("Share of variant B (%)"), min_value=0, max_value=100, initial=0,
        help_text=_("0 sends variant A to everyone. Empty fields of B use A's."),
    )  # fmt: skip
    holdout_percent = forms.IntegerField(
        label=_("Holdout control group (%)"), min_value=0, max_value=50, initial=0,
        help_text=_("Customers kept back (recorded, not sent) to measure what the campaign adds."),
    )  # fmt: skip
    offer = forms.ModelChoiceField(
        label=_("Offer"), required=False, queryset=marketing_models.Offer.objects.none(),
        help_text=_("Each recipient gets a promo code of it, as {{ offer_code }}."),
    )  # fmt: skip
    cost_per_message = forms.DecimalField(label=_("Cost per message"), max_digits=10, decimal_places=4, min_value=0, initial=0)
    fixed_cost = forms.DecimalField(label=_("Fixed cost"), max_digits=12, decimal_places=2, min_value=0, initial=0)
    cost_currency = forms.CharField(label=_("Cost currency"), min_length=3, max_length=3, initial="EUR")

    def __init__(self, *args: Any, offer_current: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Offers still valid, and the campaign's own even if it has ended (so editing does not drop it).
        current = timezone.now()
        offers = marketing_models.Offer.objects.filter(valid_until__gt=current)
        if offer_current is not None:
            offers = offers | marketing_models.Offer.objects.filter(pk=offer_current)
        self.fields["offer"].queryset = offers.order_by("name", "pk")

    def clean_cost_currency(self) -> str:
        value = self.cleaned_data["cost_currency"].strip().upper()
        if not (value.isascii() and value.isalpha()):
            raise forms.ValidationError(_("Enter a three-letter currency code, e.g. EUR."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        Kind = marketing_models.CampaignKind
        required = {
            Kind.ONE_OFF: {"send_at": _("A one-off campaign needs the date and time it goes.")},
            Kind.BIRTHDAY: {"send_time": _("Choose the local time the birthday messages go.")},
            Kind.RECURRING: {
                "send_time": _("Choose the local time the messages go."),
                "repeat": _("Choose how often it repeats."),
            },
            Kind.TRIGGERED: {"trigger": _("Choose what starts the message.")},
        }.get(kind, {})
        for name, message in required.items():
            if name not in self.errors and data.get(name) in (None, ""):
                self.add_error(name, message)
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        if kind != Kind.ONE_OFF and starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", _("The last day cannot be before the first day."))
        return data

    def variant_b_open(self) -> bool:
        """Variant B is shown unfolded when it is used or has an error."""
        names = [name for name in CONTENT_NAMES if name.endswith("_b")]
        if any(name in self.errors for name in (*names, "variant_b_percent")):
            return True
        return str(self["variant_b_percent"].value() or "0").strip() != "0" or any(self[name].value() for name in names)

    def cleaned_for_service(self) -> dict[str, Any]:
        """The service's keyword arguments; the schedule fields the kind does not use are emptied."""
        data = dict(self.cleaned_data)
        keep = KIND_FIELDS.get(data["kind"], ())
        blanks = {"send_at": None, "send_time": None, "repeat": "", "trigger": "", "trigger_days": None,
                  "starts_on": None, "ends_on": None}  # fmt: skip
        for name in SCHEDULE_FIELDS:
            if name not in keep:
                data[name] = blanks[name]
        for name in CONTENT_NAMES:
            data[name] = data.get(name) or ""
        return data


def campaign_initial(campaign: marketing_models.Campaign) -> dict[str, Any]:
    """The form's initial data for an existing campaign (send_at in the office's time zone)."""
    initial = {name: getattr(campaign, name) for name in (*CONTENT_NAMES, *SCHEDULE_FIELDS)}
    initial.update(
        name=campaign.name, segment=campaign.segment_id, channel=campaign.channel, kind=campaign.kind,
        variant_b_percent=campaign.variant_b_percent, holdout_percent=campaign.holdout_percent, offer=campaign.offer_id,
        cost_per_message=campaign.cost_per_message, fixed_cost=campaign.fixed_cost, cost_currency=campaign.cost_currency,
    )  # fmt: skip
    if campaign.send_at is not None:
        initial["send_at"] = timezone.localtime(campaign.send_at)
    return initial


class CampaignFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *marketing_models.CampaignStatus.choices]
    )
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("Any")), *marketing_models.CampaignKind.choices])


class CampaignPreviewForm(forms.Form):
    customer = forms.CharField(
        label=_("Customer number"), required=False, max_length=20,
        help_text=_("Optional: their name, miles and code fill the message; empty shows sample values."),
    )  # fmt: skip
    language = forms.ChoiceField(label=_("Language"), choices=(("en", "English"), ("zh-hans", "中文")), initial="en")
    variant = forms.ChoiceField(label=_("Variant"), choices=(("a", "A"), ("b", "B")), initial="a")


class CampaignRejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


# --- The passenger's marketing preferences (portal) ------------------------------------------------


class MarketingPreferencesForm(forms.Form):
    """Marketing consent per channel and the language of our messages; unticked means no."""

    email = forms.BooleanField(label=_("E-mail"), required=False, help_text=_("Offers and news by e-mail."))
    sms = forms.BooleanField(label=_("SMS"), required=False, help_text=_("Offers by text message to your phone."))
    push = forms.BooleanField(label=_("Push notifications"), required=False, help_text=_("Offers as notifications in our app."))
    preferred_language = forms.ChoiceField(label=_("Language of our messages"), choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from crm.forms.accounts import LanguageSelect, portal_language_choices

        super().__init__(*args, **kwargs)
        self.fields["preferred_language"].widget = LanguageSelect()
        self.fields["preferred_language"].choices = portal_language_choices()

    def channels(self) -> dict[str, bool]:
        return {channel: bool(self.cleaned_data.get(channel)) for channel in MarketingChannel.values}
