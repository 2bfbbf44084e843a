"""Portal accounts: login, registration, e-mail verification, password reset and account deletion."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from crm import models as crm_models
from crm.permissions import login_needs_verification
from crm.validation import validate_single_line_text


def portal_language_choices() -> list[tuple[str, str]]:
    """The portal's languages, each named in its own language (as people look for it)."""
    return [(code, get_language_info(code)["name_local"]) for code, _name in settings.LANGUAGES]


class LanguageSelect(forms.Select):
    """A choice of ``portal_language_choices``: each option says which language its name is written in, as
    the header's language switcher does, so that it is read out in that language whatever the page's."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):  # noqa: ANN001, ANN201, PLR0913
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        if value:
            option["attrs"]["lang"] = str(value)
        return option


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
        if login_needs_verification(user):
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
        label=_("Given name"),
        max_length=100,
        validators=[validate_single_line_text],
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    family_name = forms.CharField(
        label=_("Family name"),
        max_length=100,
        validators=[validate_single_line_text],
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
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
    preferred_language = forms.ChoiceField(label=_("Preferred language"), choices=portal_language_choices, widget=LanguageSelect)

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


class ResetLink(NamedTuple):
    user: crm_models.User
    uidb64: str
    token: str


class PortalPasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, except that it keeps the links it made instead of mailing them: the view has
    them sent like every other e-mail (recorded, then sent by a worker).

    ``may_mail(user)`` says whether this login may be mailed now (the view passes the same per-address
    interval as registration's), so the form cannot be used to flood an inbox.
    """

    email = forms.EmailField(label=_("E-mail address"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def __init__(self, *args: Any, may_mail: Callable[[crm_models.User], bool] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.may_mail = may_mail
        self.reset_links: list[ResetLink] = []

    def get_users(self, email: str) -> Iterator[crm_models.User]:
        for user in super().get_users(email):
            if self.may_mail is None or self.may_mail(user):
                yield user

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict,
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        self.reset_links.append(ResetLink(user=context["user"], uidb64=context["uid"], token=context["token"]))


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
