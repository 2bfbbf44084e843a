"""Project URLs: the portal at /, the back-office at /office/, the API at /api/v1/."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from crm.api_support import api_not_found
from crm.api_urls import api_urlpatterns
from crm.views.health import healthz

office_urlpatterns = [
    path("", include("crm.urls_office")),
    path("reservations/", include("reservations.urls_office")),
    path("loyalty/", include("loyalty.urls_office")),
    path("support/", include("support.urls_office")),
    path("marketing/", include("marketing.urls_office")),
    path("analytics/", include("analytics.urls_office")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("office/admin/", admin.site.urls),
    path("office/", include(office_urlpatterns)),
    path("api/v1/", include(api_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/ (a path with a newline, /api/nope, /api/v1 without its slash) answers JSON.
    re_path(r"^api(?:/|$)", api_not_found),
    path("", include("reservations.urls_portal")),
    path("", include("loyalty.urls_portal")),
    path("", include("support.urls_portal")),
    path("", include("marketing.urls_portal")),
    path("", include("crm.urls_portal")),
]

# Outside a view's own handling (an Http404 or a crash in Django itself), /api/ still answers in the error shape.
handler400 = "crm.views.errors.handler400"
handler403 = "crm.views.errors.handler403"
handler404 = "crm.views.errors.handler404"
handler500 = "crm.views.errors.handler500"
