"""Forms of the back-office and the portal for the customer record."""

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
    AssistanceCode,
    ConsentChannel,
    ConsentPurpose,
    Customer,
    Lead,
    LeadSource,
    LeadStatus,
    TravelPurpose,
    User,
)
from crm.permissions import AGENT, SUPERVISOR, is_staff_member

# --- Back-office ------------------------------------------------------------------------------

IDENTITY_NUMBER_FIELDS = ("national_id_number", "passport_number")


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


class OfficeCustomerForm(forms.Form):
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
        if data.get("source") == LeadSource.REFERRAL and not data.get("referred_by") and not self.has_error("referred_by"):
            self.add_error("referred_by", _("Name the customer who referred this prospect."))
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


class AccessLogFilterForm(forms.Form):
    customer = forms.CharField(label=_("Customer number"), max_length=20, required=False)
    user = forms.CharField(label=_("Staff username"), max_length=150, required=False)

    def clean_customer(self) -> str:
        value = self.cleaned_data.get("customer") or ""
        if not value:
            return ""
        number = normalize_customer_number(value)
        if number is None:
            raise ValidationError(_("Enter a customer number."), code="invalid")
        return number


# --- Portal -----------------------------------------------------------------------------------

from django.conf import settings  # noqa: E402
from django.contrib.auth import forms as auth_forms  # noqa: E402
from django.contrib.auth import password_validation  # noqa: E402
from django.utils.text import format_lazy  # noqa: E402
from django.utils.translation import get_language_info, pgettext_lazy  # noqa: E402

from crm import models as crm_models  # noqa: E402

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


def portal_language_choices() -> list[tuple[str, str]]:
    """The portal's languages, each named in its own language (as people look for it)."""
    return [(code, get_language_info(code)["name_local"]) for code, _name in settings.LANGUAGES]


class PortalLoginForm(auth_forms.AuthenticationForm):
    """Log in with the e-mail address (the username) and password; unverified addresses are refused."""

    username = auth_forms.UsernameField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        "invalid_login": _("The e-mail address or password is not correct."),
        "unverified": _(
            "Please verify your e-mail address before logging in: open the link in the e-mail we sent you "
            "when you registered. If it did not arrive, we can send it again."
        ),
    }

    unverified = False

    def clean_username(self) -> str:
        return (self.cleaned_data.get("username") or "").strip().lower()

    def confirm_login_allowed(self, user: crm_models.User) -> None:
        super().confirm_login_allowed(user)
        # Staff accounts are created by administrators, not by signing up, so they have nothing to verify.
        if user.email_verified_at is None and not user.is_staff:
            self.unverified = True
            raise ValidationError(self.error_messages["unverified"], code="unverified")


class RegistrationForm(forms.Form):
    """Sign up for the portal; the service checks the password rules and whether the address is taken."""

    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=150,  # the login name is the address, and a login name holds 150 characters
        help_text=_("You will log in with this address. We send a link to it to check that it is yours."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    given_name = forms.CharField(
        label=_("Given name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    family_name = forms.CharField(
        label=_("Family name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=1024,
        help_text=_("At least 10 characters; not a common password, not only digits, and not like your name or e-mail."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    preferred_language = forms.ChoiceField(label=_("Preferred language"), choices=portal_language_choices)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", _("The two passwords are not the same."))
        if data.get("password1"):
            # Every rule at once, beside the field; the service checks them again before creating the login.
            email = data.get("email", "")
            candidate = crm_models.User(
                username=email, email=email, first_name=data.get("given_name", ""), last_name=data.get("family_name", "")
            )
            try:
                password_validation.validate_password(data["password1"], candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class ResendVerificationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class PortalPasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, but the message goes out like every other e-mail: recorded, then sent by a worker."""

    email = forms.EmailField(label=_("E-mail address"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict,
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        from django.urls import reverse
        from django.utils import translation

        from crm import services

        user = context["user"]
        customer = crm_models.Customer.objects.filter(user=user, anonymized_at__isnull=True).first()
        language = (customer.preferred_language if customer else "") or translation.get_language() or "en"
        path = reverse("portal:password_reset_confirm", kwargs={"uidb64": context["uid"], "token": context["token"]})
        services.email_queue(
            to=to_email,
            template="crm/password_reset",
            context={
                "given_name": customer.given_name if customer else user.first_name,
                "reset_path": path,
                "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
            },
            language=language,
            customer=customer,
        )


def _meal_choices() -> list[tuple[str, str]]:
    return [
        ("", _("No special meal")),
        *((code, format_lazy("{} ({})", label, code)) for code, label in crm_models.MealCode.choices),
    ]


def _assistance_choices() -> list[tuple[str, str]]:
    return [(code, format_lazy("{} ({})", label, code)) for code, label in crm_models.AssistanceCode.choices]


class ProfileForm(forms.ModelForm):
    """The passenger's own record; ``crm.services.customer_update`` has the last word on every value."""

    preferred_language = forms.ChoiceField(
        label=_("Preferred language"),
        choices=portal_language_choices,
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

    def clean_passport_number(self) -> str | None:
        number = "".join((self.cleaned_data.get("passport_number") or "").split()).upper()
        if number and not (5 <= len(number) <= 20 and number.isascii() and number.isalnum()):
            raise ValidationError(_("A passport number has 5 to 20 letters and digits."), code="invalid")
        return number or None

    def clean_national_id_number(self) -> str | None:
        number = "".join((self.cleaned_data.get("national_id_number") or "").split()).upper()
        if number and not (number.isascii() and number.replace("-", "").isalnum()):
            raise ValidationError(_("A national ID number has only letters, digits and hyphens."), code="invalid")
        return number or None

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


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class VerifyEmailForm(forms.Form):
    """Opening the link is not enough: whoever confirms must also know the account's password."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
