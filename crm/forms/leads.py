"""Back-office forms of the leads pipeline."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from crm.forms.customers import CustomerNumberField
from crm.models import (
    Lead,
    LeadSource,
    LeadStatus,
    User,
    validate_lead_referral,
)
from crm.permissions import AGENT, SUPERVISOR

LEAD_FORM_FIELDS = ("given_name", "family_name", "email", "phone", "company", "source", "source_detail", "interest")


class LeadForm(forms.Form):
    """Marketing hands a prospect to sales; a referral names the referring customer by number."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields.update(
            fields_for_model(Lead, fields=LEAD_FORM_FIELDS, widgets={"interest": forms.Textarea(attrs={"rows": 4})})
        )
        self.fields["phone"].help_text = _("International format, e.g. +442079460958")
        self.fields["referred_by"] = CustomerNumberField(
            label=_("Referred by (customer number)"),
            required=False,
            help_text=_("For a customer referral: the number of the customer who recommended us."),
        )
        self.fields["owner"] = forms.ModelChoiceField(
            label=_("Sales owner"),
            # Sales works leads: agents and supervisors, not marketers or analysts.
            queryset=User.objects.filter(is_staff=True, is_active=True, groups__name__in=[AGENT, SUPERVISOR])
            .distinct()
            .order_by("username"),
            to_field_name="username",
            required=False,
        )

    def clean(self) -> dict:
        data = super().clean()
        if not self.has_error("referred_by"):
            try:
                validate_lead_referral(source=data.get("source", ""), referred_by=data.get("referred_by"))
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


class LeadAdvanceForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Move to"), choices=[(value, label) for value, label in LeadStatus.choices if value != LeadStatus.CONVERTED]
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    lost_reason = forms.CharField(
        label=_("Reason lost"), required=False, max_length=200, help_text=_("Required when the lead is lost.")
    )

    def __init__(self, *args, allowed: Iterable[str] | None = None, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        if allowed is not None:
            # Offer only the moves the pipeline allows; anything else posted is refused by the service.
            allowed = set(allowed)
            self.fields["status"].widget.choices = [c for c in self.fields["status"].choices if c[0] in allowed]


class LeadConvertForm(forms.Form):
    customer = CustomerNumberField(
        label=_("Existing customer number"),
        required=False,
        help_text=_("Leave empty to create a new customer from the lead's details."),
    )


class LeadNoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class LeadFilterForm(forms.Form):
    source = forms.ChoiceField(label=_("Source"), choices=[("", _("All sources")), *LeadSource.choices], required=False)
    status = forms.ChoiceField(label=_("Status"), choices=[("", _("All statuses")), *LeadStatus.choices], required=False)
