from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy

        from crm import registry
        from crm.timeline import choice_label, register_timeline_param
        from loyalty import receivers  # noqa: F401
        from loyalty.hooks import EnrolAtBooking, MilesPayments, TierBenefits, frequent_flyer_check, traveller_defaults
        from loyalty.models import AdjustmentKind, FraudSignal
        from reservations import hooks

        # Redemption: miles pay for award tickets and upgrades; typed numbers are checked; join at booking.
        hooks.payment_methods.register(MilesPayments.code, MilesPayments())
        hooks.passenger_checks.register("loyalty_frequent_flyer", frequent_flyer_check)
        hooks.booking_options.register("loyalty_enrol", EnrolAtBooking())
        hooks.traveller_defaults.register("loyalty_number", traveller_defaults)
        # A tier's extra bags at check-in, priority and lounge on the boarding pass.
        hooks.traveller_benefits.register("loyalty_tier", TierBenefits())
        register_timeline_param("loyalty.adjustment_kind", choice_label(AdjustmentKind))
        register_timeline_param("loyalty.fraud_signal", choice_label(FraudSignal))
        registry.register_nav(
            registry.NavItem(
                registry.PORTAL, gettext_lazy("Fly with miles"), "loyalty_portal:redeem",
                audience=registry.SIGNED_IN, current=("redeem",), order=25,
            )
        )  # fmt: skip
