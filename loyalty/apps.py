from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"

    def ready(self) -> None:
        from loyalty import receivers  # noqa: F401
        from loyalty.hooks import EnrolAtBooking, MilesPayments, frequent_flyer_check
        from reservations import hooks

        hooks.payment_methods.register(MilesPayments.code, MilesPayments())
        hooks.passenger_checks.register("loyalty_frequent_flyer", frequent_flyer_check)
        hooks.booking_options.register("loyalty_enrol", EnrolAtBooking())
