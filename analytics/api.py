"""analytics API endpoints, registered on the shared /api/v1/ router."""


def register(router) -> list:  # noqa: ANN001
    return []
