"""Customer-record API: token login, customers (with consent, timeline, export, merge), leads, "me".

Input serializers validate, a service in ``crm.services`` does the work, output serializers render.

Who reaches what:

- ``/customers/`` and ``/leads/`` are the back-office's: staff with the model permission for the
  action. A passenger (any login that is not staff) gets **403 on the collections** and **404 on
  every object under them, their own customer number included** — they use ``/me/``; so the
  answer never reveals whether a customer number exists.
- ``/me/...`` is the logged-in person's own customer record and nothing else.
- Every staff read of one customer (record, consent, timeline, export) writes a ``CustomerAccess``.
- Passport and national ID numbers are plaintext only for ``crm.view_identity_documents``; others
  get them masked (``••••••21``), and the customer list never carries them at all.
"""

from crm.api.common import StrictInputSerializer, error
from crm.api.customers import SEARCH_LIMIT, CustomerViewSet
from crm.api.leads import LeadViewSet
from crm.api.me import MeConsentsView, MeExportView, MeView
from crm.api.tokens import TokenObtainThrottle, TokenObtainView

__all__ = ["SEARCH_LIMIT", "StrictInputSerializer", "TokenObtainThrottle", "error", "register"]


def register(router) -> list:  # noqa: ANN001
    from django.urls import re_path
    from rest_framework.urlpatterns import format_suffix_patterns

    router.register("customers", CustomerViewSet, basename="customer")
    router.register("leads", LeadViewSet, basename="lead")
    # Like the router's routes these also answer with a format suffix (me.json), hence **kwargs on
    # every handler; regex routes, so the schema leaves the suffixed duplicates out as it does the router's.
    return format_suffix_patterns(
        [
            re_path(r"^auth/token/$", TokenObtainView.as_view(), name="api-token"),
            re_path(r"^me/$", MeView.as_view(), name="api-me"),
            re_path(r"^me/consents/$", MeConsentsView.as_view(), name="api-me-consents"),
            re_path(r"^me/export/$", MeExportView.as_view(), name="api-me-export"),
        ]
    )
