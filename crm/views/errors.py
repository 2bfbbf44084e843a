"""The project's error handlers: JSON in the API's error shape under /api/ (an error outside DRF's own
handling), and the site's pages (403, 404, 500) for the office and the portal everywhere else.

Each page wears the look of the surface its path belongs to. A staff member refused for want of a
permission is told which one and given a link to their own home page instead of a bare "403 Forbidden".
The 500 page is rendered without the request's context processors, so it needs neither the database
nor a working session to show.
"""

from __future__ import annotations

from django.apps import apps
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from crm import registry
from crm.api_support import is_api_path, json_error
from crm.permissions import is_staff_member, roles_of

OFFICE_PREFIX = "/office/"


def _is_office(request: HttpRequest) -> bool:
    path = request.path_info or ""
    return path == OFFICE_PREFIX.rstrip("/") or path.startswith(OFFICE_PREFIX)


def _base_template(request: HttpRequest) -> str:
    return "office/base.html" if _is_office(request) else "portal/base.html"


_MODEL_ACTIONS = {
    "view": lambda things: _("see %(things)s") % {"things": things},
    "add": lambda things: _("add %(things)s") % {"things": things},
    "change": lambda things: _("change %(things)s") % {"things": things},
    "delete": lambda things: _("delete %(things)s") % {"things": things},
}


def permission_label(permission: str) -> str:
    """``reservations.view_booking`` -> "see bookings"; a custom permission by the name its model gives it."""
    app_label, _dot, codename = permission.partition(".")
    try:
        app = apps.get_app_config(app_label)
    except LookupError:
        return permission
    action, _sep, model_name = codename.partition("_")
    try:
        model = app.get_model(model_name)
    except LookupError:
        model = None
    if model is not None and action in _MODEL_ACTIONS:
        return _MODEL_ACTIONS[action](model._meta.verbose_name_plural)
    for candidate in app.get_models():
        for declared, name in candidate._meta.permissions:
            if declared == codename:
                return str(name)
    return permission


def _home_url(request: HttpRequest) -> str:
    """Where this person's work starts: a staff member's role home (``home_for``), else the surface's home."""
    user = getattr(request, "user", None)
    if not _is_office(request):
        return reverse("portal:home")
    if is_staff_member(user):
        home = registry.home_item(registry.OFFICE, user, roles_of(user))
        if home is not None:
            try:
                return reverse(home.url_name)
            except NoReverseMatch:
                pass
    return reverse("office:home")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    user = getattr(request, "user", None)
    missing = tuple(getattr(exception, "permissions", ()) or ())
    office = _is_office(request)
    context = {
        "base_template": _base_template(request),
        "is_office": office,
        "staff": bool(user is not None and office and is_staff_member(user)),
        "missing": [capfirst(permission_label(p)) for p in missing],
        "home_url": _home_url(request),
    }
    return render(request, "403.html", context, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    context = {
        "base_template": _base_template(request),
        "is_office": _is_office(request),
        "request_path": request.path,
        "home_url": reverse("office:home") if _is_office(request) else reverse("portal:home"),
    }
    return render(request, "404.html", context, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """No context processors, no database, no template inheritance: whatever broke may be broken still."""
    content = loader.get_template("500.html").render({"is_office": _is_office(request)})
    return HttpResponseServerError(content)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from django.views.defaults import bad_request

    if is_api_path(request):
        return json_error("bad_request", "The request could not be read.", 400)
    return bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request):
        return json_error("permission_denied", "You do not have permission to perform this action.", 403)
    return permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request):
        return json_error("not_found", "No such API endpoint or object.", 404)
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_path(request):
        return json_error("server_error", "Something went wrong on our side; it has been logged.", 500)
    return server_error(request)
