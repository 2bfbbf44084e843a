from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from django.utils.formats import number_format

        from crm import checks, login_events, login_limits, receivers, tokens  # noqa: F401  (register checks, receivers, extension)
        from crm.models import ConsentChannel, ConsentPurpose, Customer, LeadSource
        from crm.timeline import choice_label, register_timeline_param

        register_timeline_param("crm.consent_channel", choice_label(ConsentChannel))
        register_timeline_param("crm.consent_purpose", choice_label(ConsentPurpose))
        register_timeline_param("crm.lead_source", choice_label(LeadSource))
        register_timeline_param("crm.profile_fields", _field_labels)
        register_timeline_param("crm.number", lambda value: number_format(value, force_grouping=True))

        # Who changed what from what to what; document numbers show only as changes of their keyed hash.
        auditlog.register(
            Customer, exclude_fields=["passport_number", "national_id_number", "search_name", "name_words", "updated_at"]
        )


def _field_labels(fields: list[str] | None) -> str:
    """Customer fields by their labels in the reader's language (a field since removed by its name)."""
    from django.core.exceptions import FieldDoesNotExist

    from crm.models import Customer

    names = []
    for field in fields or []:
        try:
            names.append(str(Customer._meta.get_field(field).verbose_name))
        except FieldDoesNotExist:
            names.append(str(field))
    return ", ".join(names)
