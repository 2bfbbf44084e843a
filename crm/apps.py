from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from crm import checks, login_events, login_limits, receivers, tokens  # noqa: F401  (register checks, receivers, extension)
        from crm.models import Customer

        # Who changed what from what to what; document numbers show only as changes of their keyed hash.
        auditlog.register(
            Customer, exclude_fields=["passport_number", "national_id_number", "search_name", "name_words", "updated_at"]
        )
