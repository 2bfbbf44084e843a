"""Frequent flyer API, registered on the shared /api/v1/ router; one module per sub-domain."""


def register(router) -> list:  # noqa: ANN001
    """Register the viewsets on ``router``; return extra URL patterns (non-viewset endpoints)."""
    from loyalty.api import members

    return [*members.urlpatterns()]
