"""Money and dates formatted for the reader's language (CLDR data via Babel)."""

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency
from django import template
from django.utils import translation

register = template.Library()


def babel_locale(language: str | None = None) -> str:
    """Django language code ('zh-hans') to a CLDR locale ('zh_Hans_CN')."""
    code = (language or translation.get_language() or "en").lower()
    return {"zh-hans": "zh_Hans_CN", "zh-hant": "zh_Hant_TW", "en": "en_GB"}.get(code, translation.to_locale(code))


@register.filter
def money(amount, currency: str = "EUR") -> str:  # noqa: ANN001
    """{{ fare.total|money:fare.currency }} → '€1,234.50' in English, '€1,234.50' / 'CN¥…' per locale."""
    if amount in (None, ""):
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return ""
    return format_currency(value, currency, locale=babel_locale())


@register.filter
def local_date(value) -> str:  # noqa: ANN001
    """An ISO date ('2027-03-14', as e-mails keep them) in the active language's format: '14 Mar 2027', '2027年3月14日'."""
    from datetime import date

    from django.utils import formats

    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return str(value or "")
    return formats.date_format(day, "DATE_FORMAT")
