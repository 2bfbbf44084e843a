from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "reservations"

    def ready(self) -> None:
        # receivers connect to other apps' events; documents registers the e-mail attachments
        from reservations import documents, receivers  # noqa: F401
        from reservations.hooks import payment_methods
        from reservations.services.vouchers import VoucherPayments

        payment_methods.register(VoucherPayments.code, VoucherPayments())

        from crm.timeline import choice_label, register_timeline_param
        from reservations.models import ChargeKind, PaymentMethod

        register_timeline_param("reservations.charge_kind", choice_label(ChargeKind))
        register_timeline_param("reservations.payment_method", choice_label(PaymentMethod))
