"""loyalty: forms."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.models import Adjustment, AdjustmentKind, ReviewStatus

MAX_ADJUSTMENT_MILES = Adjustment.MAX_MILES
REASON_MAX = Adjustment._meta.get_field("reason").max_length

# --- Adjustments (office) -------------------------------------------------------------------


class AdjustmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=AdjustmentKind.choices)
    award_miles = forms.IntegerField(
        label=_("Award miles"), min_value=-MAX_ADJUSTMENT_MILES, max_value=MAX_ADJUSTMENT_MILES,
        help_text=_("Negative to take miles away."),
    )  # fmt: skip
    qualifying_miles = forms.IntegerField(
        label=_("Qualifying miles"), min_value=-MAX_ADJUSTMENT_MILES, max_value=MAX_ADJUSTMENT_MILES, required=False, initial=0
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown on the member's statement with the entry."),
    )  # fmt: skip

    def clean_qualifying_miles(self) -> int:
        return self.cleaned_data.get("qualifying_miles") or 0


class AdjustmentApproveForm(forms.Form):
    note = forms.CharField(label=_("Note (optional)"), max_length=REASON_MAX, required=False)


class AdjustmentRejectForm(forms.Form):
    note = forms.CharField(
        label=_("Why is it rejected?"),
        max_length=REASON_MAX,
        error_messages={"required": _("Say why the adjustment is rejected.")},
    )


# --- Household and transfers (portal) -------------------------------------------------------


class HouseholdInviteForm(forms.Form):
    frequent_flyer_number = forms.CharField(
        label=_("Their frequent flyer number"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    family_name = forms.CharField(label=_("Their family name"), max_length=100)


class TransferForm(forms.Form):
    frequent_flyer_number = forms.CharField(
        label=_("Recipient's frequent flyer number"), max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )  # fmt: skip
    family_name = forms.CharField(label=_("Recipient's family name"), max_length=100)
    miles = forms.IntegerField(label=_("Miles to send"), min_value=1, max_value=10_000_000)
    # Names this transfer: submitting the same form twice posts it once.
    transfer_id = forms.UUIDField(label=_("Form reference"), widget=forms.HiddenInput, initial=uuid.uuid4)


# --- Fraud review ---------------------------------------------------------------------------------


class FraudReviewForm(forms.Form):
    """A supervisor's verdict on a flag: cleared (no fraud) or confirmed, always with a reason."""

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(ReviewStatus.CLEARED, _("Clear: not fraud")), (ReviewStatus.CONFIRMED, _("Confirm fraud"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("Why"), max_length=300, widget=forms.Textarea(attrs={"rows": 2}))
