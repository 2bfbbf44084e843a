"""The passenger's own profile and consent in the portal."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm import models as crm_models
from crm.forms.accounts import LanguageSelect, portal_language_choices
from crm.forms.customers import AddressLinesMixin, split_address_lines
from crm.validation import normalize_document_number

PORTAL_PROFILE_FIELDSETS = (
    (
        "about",
        _("About you"),
        ("title", "given_name", "family_name", "gender", "date_of_birth", "nationality", "preferred_language"),
    ),
    (
        "contact",
        _("Phone and postal address"),
        ("phone", "address_line1", "address_line2", "city", "region", "postal_code", "country"),
    ),
    (
        "documents",
        _("Travel documents"),
        ("passport_number", "passport_expiry", "passport_country", "national_id_number"),
    ),
    (
        "travel",
        _("Travel preferences"),
        ("meal_preference", "seat_preference", "preferred_cabin", "home_airport", "travel_purposes", "special_assistance"),
    ),
    (
        "emergency",
        _("Emergency contact"),
        ("emergency_contact_name", "emergency_contact_phone", "emergency_contact_relationship"),
    ),
)
# The passenger's own fields: every editable field but the login e-mail (which needs its own verification).
PORTAL_PROFILE_FIELDS = tuple(name for _key, _legend, names in PORTAL_PROFILE_FIELDSETS for name in names)
PHONE_HELP = _("International format starting with + and the country code, e.g. +44 20 7946 0958.")


def _meal_choices() -> list[tuple[str, str]]:
    return [
        ("", _("No special meal")),
        *((code, format_lazy("{} ({})", label, code)) for code, label in crm_models.MealCode.choices),
    ]


def _assistance_choices() -> list[tuple[str, str]]:
    return [(code, format_lazy("{} ({})", label, code)) for code, label in crm_models.AssistanceCode.choices]


class ProfileForm(AddressLinesMixin, forms.ModelForm):
    """The passenger's own record; ``crm.services.customer_update`` has the last word on every value."""

    preferred_language = forms.ChoiceField(
        label=_("Preferred language"),
        choices=portal_language_choices,
        widget=LanguageSelect,
        help_text=_("The language of this site and of our e-mails to you."),
    )
    special_assistance = forms.MultipleChoiceField(
        label=_("Assistance you need when you travel"),
        choices=_assistance_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("We add these to your bookings so that the airport and crew can prepare."),
    )
    travel_purposes = forms.MultipleChoiceField(
        label=_("Why you usually travel"),
        choices=crm_models.TravelPurpose.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    meal_preference = forms.ChoiceField(label=_("Meal preference"), choices=_meal_choices, required=False)

    class Meta:
        model = crm_models.Customer
        fields = PORTAL_PROFILE_FIELDS
        widgets = {
            "title": forms.Select(attrs={"autocomplete": "honorific-prefix"}),
            "given_name": forms.TextInput(attrs={"autocomplete": "given-name"}),
            "family_name": forms.TextInput(attrs={"autocomplete": "family-name"}),
            "gender": forms.Select(attrs={"autocomplete": "sex"}),
            "date_of_birth": forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
            "address_line1": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "address_line2": forms.TextInput(attrs={"autocomplete": "address-line2"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "region": forms.TextInput(attrs={"autocomplete": "address-level1"}),
            "postal_code": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "passport_number": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "national_id_number": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "passport_expiry": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "home_airport": forms.TextInput(attrs={"size": 4, "autocapitalize": "characters", "spellcheck": "false"}),
            "emergency_contact_name": forms.TextInput(attrs={"autocomplete": "off"}),
        }
        help_texts = {
            "home_airport": _("Three-letter IATA airport code, e.g. LHR or PEK."),
            "passport_number": _("As printed in your passport. Only you and authorised airline staff can see it."),
            "national_id_number": _("Only you and authorised airline staff can see it."),
        }

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk:
            self.split_address_fields = split_address_lines(self.initial)
        not_set = _("Not specified")
        for name in ("title", "gender", "nationality", "country", "passport_country"):
            self.fields[name].choices = [("", not_set), *list(self.fields[name].choices)[1:]]
        # "Business" is also a purpose of travel; as a cabin it gets its own translation.
        cabin_labels = {crm_models.Cabin.BUSINESS: pgettext_lazy("cabin", "Business")}
        self.fields["preferred_cabin"].choices = [
            ("", _("No preference")),
            *((value, cabin_labels.get(value, label)) for value, label in crm_models.Cabin.choices),
        ]
        for name in ("phone", "emergency_contact_phone"):
            self.fields[name].help_text = PHONE_HELP
            self.fields[name].widget.input_type = "tel"
            self.fields[name].widget.attrs.setdefault("autocomplete", "tel" if name == "phone" else "off")
        for name in ("nationality", "country", "passport_country"):
            self.fields[name].widget.attrs["autocomplete"] = "country" if name == "country" else "off"
        if self.instance and self.instance.preferred_language not in dict(portal_language_choices()):
            self.initial["preferred_language"] = settings.LANGUAGE_CODE

    def clean_home_airport(self) -> str:
        code = (self.cleaned_data.get("home_airport") or "").strip().upper()
        if code and not (len(code) == 3 and code.isascii() and code.isalpha()):
            raise ValidationError(_("Enter a three-letter IATA airport code, e.g. LHR."), code="invalid")
        return code

    # The numbers' rules are the model fields' validators (crm.validation), as for the office and the API.
    def clean_passport_number(self) -> str | None:
        return normalize_document_number(self.cleaned_data.get("passport_number")) or None

    def clean_national_id_number(self) -> str | None:
        return normalize_document_number(self.cleaned_data.get("national_id_number")) or None

    def fieldsets(self) -> list[dict]:
        return [
            {"key": key, "legend": legend, "fields": [self[name] for name in names]}
            for key, legend, names in PORTAL_PROFILE_FIELDSETS
        ]


class ConsentForm(forms.Form):
    """One switch per channel and purpose; unticked means no consent."""

    PURPOSE_HELP = {
        crm_models.ConsentPurpose.MARKETING: _("Offers, news and surveys"),
        crm_models.ConsentPurpose.SERVICE: _("About your bookings, flights and account"),
    }

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        for channel in crm_models.ConsentChannel:
            for purpose in crm_models.ConsentPurpose:
                self.fields[self.field_name(channel, purpose)] = forms.BooleanField(
                    label=purpose.label, required=False, help_text=self.PURPOSE_HELP.get(purpose, "")
                )

    @staticmethod
    def field_name(channel: str, purpose: str) -> str:
        return f"{channel}__{purpose}"

    def channels(self) -> list[dict]:
        """The switches grouped by channel, for one fieldset each."""
        return [
            {
                "label": channel.label,
                "key": channel.value,
                "fields": [self[self.field_name(channel, purpose)] for purpose in crm_models.ConsentPurpose],
            }
            for channel in crm_models.ConsentChannel
        ]

    def wanted(self) -> dict[tuple[str, str], bool]:
        return {
            (channel.value, purpose.value): bool(self.cleaned_data.get(self.field_name(channel, purpose)))
            for channel in crm_models.ConsentChannel
            for purpose in crm_models.ConsentPurpose
        }
