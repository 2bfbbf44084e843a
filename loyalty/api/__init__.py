"""Frequent flyer API, registered on the shared /api/v1/ router; one module per sub-domain."""


def register(router) -> list:  # noqa: ANN001
    """Register the viewsets on ``router``; return extra URL patterns (non-viewset endpoints)."""
    from rest_framework.urlpatterns import format_suffix_patterns

    from loyalty.api import claims

    return format_suffix_patterns([*claims.urls()])
