"""One router for every app's API, mounted at /api/v1/."""

from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

import analytics.api
import crm.api
import loyalty.api
import marketing.api
import reservations.api
import support.api
from crm.api_support import api_not_found

router = DefaultRouter()
extra_urlpatterns = []
for module in (crm.api, reservations.api, loyalty.api, support.api, marketing.api, analytics.api):
    register = getattr(module, "register", None)
    if register is not None:
        extra_urlpatterns += register(router) or []

# Unknown paths answer in the API's error shape too, not with an HTML page.
api_urlpatterns = [*extra_urlpatterns, path("", include(router.urls)), re_path(r"^.*$", api_not_found)]
