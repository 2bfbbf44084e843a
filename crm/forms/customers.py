"""Back-office forms of the customer record: search, create and edit, consent by phone, duplicates and merge, the access log."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from django import forms
from django.conf import global_settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.forms.models import fields_for_model, model_to_dict
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from crm.models import (
    AccessAction,
    AssistanceCode,
    ConsentChannel,
    ConsentPurpose,
    Customer,
    TravelPurpose,
    User,
)
from crm.permissions import is_staff_member

IDENTITY_NUMBER_FIELDS = ("national_id_number", "passport_number")

_LINE_BREAKS = re.compile("[\r\n\v\f\x85\u2028\u2029]+")


def split_address_lines(values: dict) -> set[str]:
    """Put a stored address with line breaks into the form's two one-line address fields.

    A one-line input cannot show a line break: the browser drops it, and saving the form then joined
    the lines ("Studio 97h\nDominic Track" became "Studio 97hDominic Track"). Such a record (written
    before addresses were one line each, or by an import) opens with its first line in line 1 and the
    rest in line 2, so the agent sees both and saving keeps them apart. Returns the fields it changed.
    """
    line1, line2 = values.get("address_line1") or "", values.get("address_line2") or ""
    if not _LINE_BREAKS.search(line1 + line2):
        return set()
    first = [part.strip() for part in _LINE_BREAKS.split(line1) if part.strip()]
    second = [part.strip() for part in _LINE_BREAKS.split(line2) if part.strip()]
    values["address_line1"] = first[0] if first else ""
    values["address_line2"] = ", ".join([*first[1:], *second])
    return {"address_line1", "address_line2"}


class AddressLinesMixin:
    """Forms over a stored record whose address lines were split for display (``split_address_lines``):
    the split lines count as changed, so saving the form stores them as the agent or passenger saw them."""

    split_address_fields: set[str] = set()

    @property
    def changed_data(self) -> list[str]:
        changed = list(super().changed_data)
        return changed + [name for name in sorted(self.split_address_fields) if name in self.fields and name not in changed]


def normalize_customer_number(value: str) -> str | None:
    """A customer number as typed (any case, stray spaces); None when it cannot be one."""
    number = "".join(str(value).split()).upper()
    if not number or not number.isascii() or not number.isalnum() or len(number) > 12:
        return None
    return number


class OfficeAuthenticationForm(AuthenticationForm):
    """The office login: the right password is not enough, the login must belong to a staff member."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "no_office_access": _("This account has no access to the back-office. Passengers log in on the portal."),
    }

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not is_staff_member(user):
            raise ValidationError(self.error_messages["no_office_access"], code="no_office_access")


class CustomerSearchForm(forms.Form):
    q = forms.CharField(label=_("Find a customer"), max_length=200, required=False)


class CustomerNumberField(forms.ModelChoiceField):
    """A live customer, typed by customer number (any case, stray spaces)."""

    default_error_messages = {"invalid_choice": _("No customer with that number.")}
    widget = forms.TextInput

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        kwargs.setdefault("widget", forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
        super().__init__(queryset=Customer.objects.filter(anonymized_at__isnull=True), to_field_name="customer_number", **kwargs)

    def to_python(self, value):  # noqa: ANN001, ANN201
        if value in self.empty_values:
            return None
        number = normalize_customer_number(value)
        if number is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(number)


class OfficeCustomerForm(AddressLinesMixin, forms.Form):
    """Create or edit a customer over the editable fields the view passes in; the service has the last word.

    Passport and national ID numbers are only among the fields for staff who may see them.
    """

    FIELDSETS = (
        ("identity", _("Name and identity"), ("title", "given_name", "family_name", "gender", "date_of_birth", "nationality")),
        ("contact", _("Contact"), ("email", "phone", "preferred_language")),
        ("address", _("Postal address"), ("address_line1", "address_line2", "city", "region", "postal_code", "country")),
        (
            "documents",
            _("Identity documents"),
            ("national_id_number", "passport_number", "passport_expiry", "passport_country"),
        ),
        (
            "travel",
            _("Travel preferences"),
            ("meal_preference", "seat_preference", "preferred_cabin", "home_airport", "special_assistance", "travel_purposes"),
        ),
        (
            "emergency",
            _("Emergency contact"),
            ("emergency_contact_name", "emergency_contact_phone", "emergency_contact_relationship"),
        ),
    )
    WIDGETS = {
        "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        "passport_expiry": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        "email": forms.EmailInput(attrs={"autocomplete": "off"}),
    }

    def __init__(self, *args, fields: Sequence[str], customer: Customer | None = None, **kwargs) -> None:  # noqa: ANN002, ANN003
        if customer is not None:
            kwargs.setdefault("initial", model_to_dict(customer, fields=fields))
        super().__init__(*args, **kwargs)
        if customer is not None:
            self.split_address_fields = split_address_lines(self.initial)
        self.fields.update(fields_for_model(Customer, fields=fields, widgets=self.WIDGETS))
        if "phone" in self.fields:
            self.fields["phone"].help_text = _("International format, e.g. +442079460958")
        if "emergency_contact_phone" in self.fields:
            self.fields["emergency_contact_phone"].help_text = _("International format, e.g. +442079460958")
        if "home_airport" in self.fields:
            self.fields["home_airport"].validators.append(
                RegexValidator(r"^[A-Za-z]{3}$", _("Enter a three-letter IATA airport code, e.g. LHR."))
            )
            self.fields["home_airport"].widget.attrs.update({"size": 4, "autocapitalize": "characters"})
        if "preferred_language" in self.fields:
            current = self.initial.get("preferred_language") or ""
            choices = [("", "---------"), *global_settings.LANGUAGES]
            if current and current not in dict(choices):
                choices.append((current, current))
            self.fields["preferred_language"] = forms.ChoiceField(
                label=capfirst(Customer._meta.get_field("preferred_language").verbose_name), choices=choices, required=False
            )
            self.initial.setdefault("preferred_language", "en")
        multi = {"special_assistance": AssistanceCode.choices, "travel_purposes": TravelPurpose.choices}
        for name, choices in multi.items():
            if name in self.fields:
                self.fields[name] = forms.MultipleChoiceField(
                    label=capfirst(Customer._meta.get_field(name).verbose_name),
                    choices=choices,
                    required=False,
                    widget=forms.CheckboxSelectMultiple,
                )

    def clean_home_airport(self) -> str:
        return (self.cleaned_data.get("home_airport") or "").upper()

    def fieldsets(self) -> list[dict]:
        """The form's fields in groups for display (a group lists only the fields this form has)."""
        return [
            {"key": key, "legend": legend, "fields": [self[name] for name in names if name in self.fields]}
            for key, legend, names in self.FIELDSETS
        ]


class ConsentRecordForm(forms.Form):
    """A consent an agent took over the phone or at a desk."""

    channel = forms.ChoiceField(label=_("Channel"), choices=ConsentChannel.choices)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentPurpose.choices)
    answer = forms.ChoiceField(
        label=_("The customer"),
        choices=[("granted", _("gives consent")), ("withdrawn", _("withdraws consent"))],
        widget=forms.RadioSelect,
    )
    method = forms.CharField(
        label=_("How"), max_length=200, initial=_("Phone call"), help_text=_("e.g. phone call, airport ticket desk")
    )


class DuplicatePairForm(forms.Form):
    """Two customer numbers to compare side by side."""

    a = forms.CharField(label=_("First customer number"), max_length=20)
    b = forms.CharField(label=_("Second customer number"), max_length=20)

    def _number(self, name: str) -> str:
        number = normalize_customer_number(self.cleaned_data[name])
        if number is None:
            raise ValidationError(_("No customer with that number."), code="invalid")
        return number

    def clean_a(self) -> str:
        return self._number("a")

    def clean_b(self) -> str:
        return self._number("b")


class CustomerMergeForm(forms.Form):
    survivor = forms.ChoiceField(label=_("Keep this record"), widget=forms.RadioSelect)
    confirm = forms.BooleanField(
        label=_("I have checked that both records are the same person. Merging cannot be undone."), required=True
    )

    def __init__(self, *args, customers: Iterable[Customer], **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["survivor"].choices = [(c.customer_number, f"{c.full_name} ({c.customer_number})") for c in customers]


class AccessLogFilterForm(forms.Form):
    customer = forms.CharField(label=_("Customer number"), max_length=20, required=False)
    user = forms.CharField(label=_("Staff username"), max_length=150, required=False)
    action = forms.ChoiceField(label=_("Viewed or changed"), choices=[("", _("Both")), *AccessAction.choices], required=False)

    def clean_customer(self) -> str:
        value = self.cleaned_data.get("customer") or ""
        if not value:
            return ""
        number = normalize_customer_number(value)
        if number is None:
            raise ValidationError(_("Enter a customer number."), code="invalid")
        return number
