"""marketing: forms."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.models import Cabin
from marketing.models import ISSUE_MAX, OfferKind

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
