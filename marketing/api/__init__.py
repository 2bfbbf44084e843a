"""Marketing API, registered on the shared /api/v1/ router; one module per sub-domain."""


def register(router) -> list:  # noqa: ANN001
    from marketing.api import campaigns, offers, results, segments

    return [*segments.register(router), *offers.register(router), *campaigns.register(router), *results.register(router)]
