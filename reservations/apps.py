from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "reservations"

    def ready(self) -> None:
        # receivers connect to other apps' events; documents registers the e-mail attachments
        from reservations import documents, receivers  # noqa: F401
