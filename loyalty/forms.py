"""loyalty: forms."""

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.models import ReviewStatus

# --- Fraud review ---------------------------------------------------------------------------------


class FraudReviewForm(forms.Form):
    """A supervisor's verdict on a flag: cleared (no fraud) or confirmed, always with a reason."""

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(ReviewStatus.CLEARED, _("Clear: not fraud")), (ReviewStatus.CONFIRMED, _("Confirm fraud"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("Why"), max_length=300, widget=forms.Textarea(attrs={"rows": 2}))
