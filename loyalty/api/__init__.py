"""Frequent flyer API, registered on the shared /api/v1/ router; one module per sub-domain."""


def register(router) -> list:  # noqa: ANN001
    """Register the viewsets on ``router``; return extra URL patterns (non-viewset endpoints)."""
    from django.urls import re_path
    from rest_framework.urlpatterns import format_suffix_patterns

    from loyalty.api import adjustments, claims, fraud, household, members, redemption, status_match
    from loyalty.api.liability import LiabilityView
    from loyalty.api.partners import PartnerAccrualView, PartnerReversalView, PartnerStatementView

    return [
        *members.urlpatterns(),
        *format_suffix_patterns(claims.urls()),
        *status_match.register(router),
        *adjustments.register(router),
        *household.register(router),
        *redemption.register(router),
        *fraud.register(router),
        re_path(r"^loyalty/partner-accruals/$", PartnerAccrualView.as_view(), name="api-loyalty-partner-accruals"),
        re_path(r"^loyalty/partner-reversals/$", PartnerReversalView.as_view(), name="api-loyalty-partner-reversals"),
        re_path(
            r"^loyalty/partner-statements/(?P<month>[^/]+)/$",
            PartnerStatementView.as_view(),
            name="api-loyalty-partner-statement",
        ),
        re_path(r"^loyalty/liability/$", LiabilityView.as_view(), name="api-loyalty-liability"),
    ]
