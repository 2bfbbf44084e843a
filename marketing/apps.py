from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "marketing"

    def ready(self) -> None:
        from marketing import receivers  # noqa: F401
