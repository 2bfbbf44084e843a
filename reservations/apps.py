from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "reservations"

    def ready(self) -> None:
        # receivers connect to other apps' events; documents registers the e-mail attachments
        from reservations import documents, receivers  # noqa: F401
        from reservations.hooks import payment_methods
        from reservations.services.vouchers import VoucherPayments

        payment_methods.register(VoucherPayments.code, VoucherPayments())
