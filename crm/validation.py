"""The rules for what a person may type, one copy for every surface.

Model fields carry these as validators, so Django forms (ModelForm, ``fields_for_model``), DRF model
serializers and the services' ``full_clean`` all apply the same rule; serializers that are not built
from a model name them explicitly. A value the portal's or office's forms refuse is refused by the API too.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from django.conf import global_settings, settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

OLDEST_AGE_YEARS = 120
PASSPORT_NUMBER_RE = re.compile(r"[A-Z0-9]{5,20}")
NATIONAL_ID_NUMBER_RE = re.compile(r"[A-Z0-9](?:[A-Z0-9-]{0,38}[A-Z0-9])?")


def normalize_document_number(value: str | None) -> str:
    """As stored and hashed: no spaces, upper case."""
    return "".join((value or "").split()).upper()


def validate_passport_number(value: str | None) -> None:
    if value and not PASSPORT_NUMBER_RE.fullmatch(normalize_document_number(value)):
        raise ValidationError(_("A passport number has 5 to 20 letters and digits."), code="invalid")


def validate_national_id_number(value: str | None) -> None:
    if value and not NATIONAL_ID_NUMBER_RE.fullmatch(normalize_document_number(value)):
        raise ValidationError(_("A national ID number has only letters, digits and hyphens."), code="invalid")


def validate_single_line_text(value: str | None) -> None:
    """Names and other one-line text: no line breaks, tabs or other control characters (they split
    e-mail headers, CSV rows and log lines, and no name or address has one)."""
    if value and any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch not in "\u200c\u200d" for ch in value):
        raise ValidationError(_("Use one line of text, without line breaks, tabs or control characters."), code="invalid")


def _single_line_pattern() -> str:
    """``validate_single_line_text`` as a JSON schema pattern: none of the characters it refuses."""
    refused = [
        cp
        for cp in range(0x10000)  # the basic plane: a pattern's \\u escapes reach no further
        if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Zl", "Zp") and chr(cp) not in "\u200c\u200d"
    ]
    ranges: list[tuple[int, int]] = []
    for cp in refused:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return "^[^" + "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges) + "]*$"


# The same rules as patterns, for the API schema (crm.api_support.AutoSchema): what a document number
# may look like as typed (any case, spaces anywhere), blank included.
SCHEMA_PATTERNS = {
    validate_single_line_text: _single_line_pattern(),
    validate_passport_number: r"^(\s*|(\s*[A-Za-z0-9]){5,20}\s*)$",
    validate_national_id_number: r"^(\s*|\s*[A-Za-z0-9]([\sA-Za-z0-9-]*[A-Za-z0-9])?\s*)$",
}


def earliest_date_of_birth(today: dt.date | None = None) -> dt.date:
    today = today or timezone.localdate()
    try:
        return today.replace(year=today.year - OLDEST_AGE_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - OLDEST_AGE_YEARS, day=28)


def validate_date_of_birth(value: dt.date | None) -> None:
    if value and value < earliest_date_of_birth():
        raise ValidationError(
            _("Enter a real date of birth: nobody we fly is older than %(years)s.") % {"years": OLDEST_AGE_YEARS},
            code="invalid",
        )


def known_language_codes() -> set[str]:
    """The languages a customer may prefer: any Django knows (the office's list, for letters and calls)."""
    return {code for code, _name in global_settings.LANGUAGES} | portal_language_codes()


def portal_language_codes() -> set[str]:
    """The languages of the portal and its e-mails (settings.LANGUAGES): what a passenger may choose."""
    return {code for code, _name in settings.LANGUAGES}


def validate_language_code(value: str | None) -> None:
    if value and value not in known_language_codes():
        raise ValidationError(_("Choose a language from the list."), code="invalid_choice")
