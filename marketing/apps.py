from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "marketing"

    def ready(self) -> None:
        from marketing import receivers  # noqa: F401
        from marketing.discounts import NAME, PromoCodes
        from reservations import hooks

        if hooks.discounts.get(NAME) is None:
            hooks.discounts.register(NAME, PromoCodes())
