"""Marketing API, registered on the shared /api/v1/ router; one module per sub-domain."""


def register(router) -> list:  # noqa: ANN001
    from marketing.api import offers, segments

    return [*segments.register(router), *offers.register(router)]


_register_before_results = register


def register(router) -> list:  # noqa: ANN001, F811
    from marketing.api import results

    return [*_register_before_results(router), *results.register(router)]
