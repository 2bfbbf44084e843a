"""Customer-record API: customers, consent, timeline, leads, token login."""


def register(router) -> list:  # noqa: ANN001
    return []
