"""The passengers' self-service portal: their account, profile, consent and data.

Every page about a person gets the customer with ``selectors.customer_get_for_user``, so a
passenger only ever reaches their own record, and a login without one gets a 404.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from crm import registry, selectors, services
from crm.errors import ApplicationError, NotFound
from crm.forms import (
    ConsentForm,
    DeleteAccountForm,
    PortalLoginForm,
    PortalPasswordResetForm,
    ProfileForm,
    RegistrationForm,
    ResendVerificationForm,
    VerifyEmailForm,
    add_application_error,
)
from crm.models import ConsentSource, Customer, User

CONSENT_METHOD = "portal preferences form"
CONSENT_HISTORY_PAGE_SIZE = 20
# One e-mail a minute per login from the "send it again" forms, so nobody can flood an inbox through them.
MAIL_AGAIN_INTERVAL_SECONDS = 60


# --- Helpers ---------------------------------------------------------------------------------


def _own_customer(request: HttpRequest) -> Customer:
    """The logged-in passenger's own record; any other login (staff, erased) gets a 404."""
    try:
        return selectors.customer_get_for_user(user=request.user)
    except NotFound:
        raise Http404(_("You have no customer record.")) from None


def _language(code: str | None) -> str | None:
    return code if code in dict(settings.LANGUAGES) else None


def _remember_language(response: HttpResponse, code: str) -> HttpResponse:
    """Set the language cookie as Django's set_language view does, so LocaleMiddleware uses it from now on."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


def _may_mail_again(user: User, kind: str) -> bool:
    return cache.add(f"portal:mail-again:{kind}:{user.pk}", 1, timeout=MAIL_AGAIN_INTERVAL_SECONDS)


def _customer_of(user: User) -> Customer | None:
    try:
        return selectors.customer_get_for_user(user=user)
    except NotFound:
        return None


# --- Home ------------------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    customer = _customer_of(request.user) if request.user.is_authenticated else None
    sections = registry.home_sections(request, customer)
    return render(request, "portal/home.html", {"customer": customer, "sections": sections})


# --- Account: register, verify, log in -------------------------------------------------------


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("portal:home")
    form = RegistrationForm(request.POST or None, initial={"preferred_language": _language(translation.get_language())})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                user = services.passenger_register(
                    email=data["email"],
                    password=data["password1"],
                    given_name=data["given_name"],
                    family_name=data["family_name"],
                    preferred_language=data["preferred_language"],
                )
                services.passenger_verification_email_queue(user=user)
        except IntegrityError:
            # The same address registered twice at the same moment: the other request created the login.
            return redirect("portal:register_done")
        except ApplicationError as exc:
            if exc.code != "email_taken":
                add_application_error(form, exc, field_map={"password": "password1"})
                return render(request, "portal/crm/register.html", {"form": form})
            # The page must not tell who has an account: the address's owner gets an e-mail instead.
            existing = selectors.login_get_by_email(email=data["email"])
            if existing is not None and _may_mail_again(existing, "register"):
                with transaction.atomic():
                    if existing.email_verified_at is None:
                        services.passenger_verification_email_queue(user=existing)
                    else:
                        services.passenger_account_exists_email_queue(user=existing)
        return redirect("portal:register_done")
    return render(request, "portal/crm/register.html", {"form": form})


def register_done(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/crm/register_done.html")


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
@never_cache
def verify_email(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The link proves the mailbox; the password proves the account, so nobody can register
    someone else's address and have its owner verify it for them."""
    try:
        user_id = force_str(urlsafe_base64_decode(uidb64))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        user_id = None
    user = selectors.login_get_by_id(user_id=user_id)
    if user is None or not services.email_verification_token.check_token(user, token):
        return render(request, "portal/crm/verify_email_invalid.html", {"form": ResendVerificationForm()})
    form = VerifyEmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if authenticate(request, username=user.username, password=form.cleaned_data["password"]) is not None:
            services.passenger_verify_email(user=user)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("portal:verify_email_done")
        form.add_error("password", _("This is not the password of the account being confirmed."))
    return render(request, "portal/crm/verify_email_confirm.html", {"form": form, "email": user.email})


def verify_email_done(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/crm/verify_email_done.html")


@require_http_methods(["GET", "POST"])
def resend_verification(request: HttpRequest) -> HttpResponse:
    form = ResendVerificationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = selectors.login_get_by_email(email=form.cleaned_data["email"])
        if user is not None and user.email_verified_at is None and _may_mail_again(user, "verify"):
            with transaction.atomic():
                services.passenger_verification_email_queue(user=user)
        # The same answer whether or not the address has an account waiting for verification.
        return redirect("portal:resend_verification_done")
    return render(request, "portal/crm/resend_verification.html", {"form": form})


def resend_verification_done(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/crm/resend_verification_done.html")


class LoginView(auth_views.LoginView):
    """Log in by e-mail; django-axes counts failures (the form authenticates with the request)."""

    form_class = PortalLoginForm
    template_name = "portal/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: PortalLoginForm) -> HttpResponse:
        # A language the visitor chose in this browser (the header's switcher sets the cookie) is kept: a passenger
        # who switched to Chinese and is asked to log in half-way through booking goes on in Chinese. Without such a
        # choice, the account's language wins, like the rest of the account's preferences.
        chosen = _language(self.request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
        response = super().form_valid(form)
        customer = _customer_of(form.get_user())
        code = None if chosen else _language(customer.preferred_language if customer else None)
        if code:
            translation.activate(code)
            _remember_language(response, code)
        return response


class LogoutView(auth_views.LogoutView):
    """POST only (Django's default); back to the home page."""


# --- Password reset and change ---------------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PortalPasswordResetForm
    template_name = "portal/crm/password_reset_form.html"
    success_url = reverse_lazy("portal:password_reset_done")

    def get_form_kwargs(self) -> dict[str, Any]:
        # One reset e-mail per address per interval, like registration's; the page answers the same either way.
        return {**super().get_form_kwargs(), "may_mail": lambda user: _may_mail_again(user, "reset")}

    def form_valid(self, form: PortalPasswordResetForm) -> HttpResponse:
        response = super().form_valid(form)
        for link in form.reset_links:
            services.passenger_password_reset_email_queue(user=link.user, uidb64=link.uidb64, token=link.token)
        return response


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/crm/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "portal/crm/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # The link came by e-mail, so following it proves the address as well.
        services.passenger_verify_email(user=form.user)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/crm/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "portal/crm/password_change_form.html"
    success_url = reverse_lazy("portal:password_change_done")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            _own_customer(request)
        return super().dispatch(request, *args, **kwargs)


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "portal/crm/password_change_done.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            _own_customer(request)
        return super().dispatch(request, *args, **kwargs)


# --- Profile ---------------------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    customer = _own_customer(request)
    form = ProfileForm(request.POST or None, instance=customer)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        if not data:
            messages.info(request, _("Nothing changed."))
            return redirect("portal:profile")
        try:
            services.customer_update(customer=customer, data=data, by=request.user)
        except ApplicationError as exc:
            add_application_error(form, exc)
        else:
            code = _language(data.get("preferred_language"))
            if code:
                translation.activate(code)
            messages.success(request, _("Your profile is saved."))
            response = redirect("portal:profile")
            return _remember_language(response, code) if code else response
    # The form's instance may hold rejected input now; show the stored record beside it.
    customer = _own_customer(request)
    return render(request, "portal/crm/profile.html", {"form": form, "customer": customer})


# --- Consent ---------------------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest) -> HttpResponse:
    customer = _own_customer(request)
    if request.method == "POST":
        form = ConsentForm(request.POST)
        if form.is_valid():
            events = services.consent_record_changes(
                customer=customer,
                wanted=form.wanted(),
                source=ConsentSource.PORTAL,
                method=CONSENT_METHOD,
                by=request.user,
            )
            if events:
                messages.success(request, _("Your communication preferences are saved."))
            else:
                messages.info(request, _("Nothing changed."))
            return redirect("portal:consent")
    else:
        current = selectors.consent_current(customer=customer)
        form = ConsentForm(
            initial={
                ConsentForm.field_name(channel, purpose): bool(event and event.granted)
                for (channel, purpose), event in current.items()
            }
        )
    history = Paginator(selectors.consent_history(customer=customer), CONSENT_HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/crm/consent.html", {"form": form, "customer": customer, "history": history})


# --- My data ---------------------------------------------------------------------------------


@login_required
@never_cache
@require_GET
def my_data(request: HttpRequest) -> HttpResponse:
    customer = _own_customer(request)
    return render(request, "portal/crm/my_data.html", {"customer": customer})


@login_required
@never_cache
@require_GET
def download_data(request: HttpRequest) -> HttpResponse:
    """Everything every app holds about the logged-in passenger, as one JSON file."""
    customer = _own_customer(request)
    data = services.customer_export(customer=customer)
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = f"{settings.AIRLINE_NAME.lower().replace(' ', '-')}-my-data-{customer.customer_number}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    customer = _own_customer(request)
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Through authenticate(), so django-axes counts wrong passwords here too.
        user = authenticate(request, username=request.user.get_username(), password=form.cleaned_data["password"])
        if user is None or user.pk != request.user.pk:
            form.add_error("password", _("The password is not correct."))
        else:
            services.customer_erase(customer=customer, by=request.user)
            logout(request)
            return redirect("portal:account_deleted")
    return render(request, "portal/crm/delete_account.html", {"form": form, "customer": customer})


def account_deleted(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/crm/account_deleted.html")
