"""Static lists imported from a CSV file: every row is checked first and the file is imported whole or not at all.

Each row's first column is a customer number or an e-mail address (a header row naming ``customer``,
``customer_number`` or ``email`` is skipped). A row that names nobody, an e-mail shared by several
customers, an erased customer or the same customer twice is reported with its row number, its value
and the reason, and nothing is imported.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from crm.errors import ApplicationError
from crm.models import Customer, User
from marketing.models import StaticList, StaticListMember

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20000
MAX_REPORTED = 500
HEADERS = {"customer", "customer_number", "email", "e-mail"}


@dataclass(frozen=True)
class RowError:
    row: int
    value: str
    reason: str


class ImportRejected(ApplicationError):
    """The file was refused; ``errors`` says which rows and why (at most MAX_REPORTED of them)."""

    def __init__(self, message: str, *, errors: list[RowError], total: int) -> None:
        super().__init__(message, code="import_rejected", fields={"file": [message]})
        self.errors = errors[:MAX_REPORTED]
        self.total = total


def _rows(content: bytes) -> list[tuple[int, str]]:
    if len(content) > MAX_BYTES:
        raise ApplicationError(
            _("The file is larger than %(max)d MB.") % {"max": MAX_BYTES // (1024 * 1024)}, code="file_too_large",
            fields={"file": [_("The file is too large.")]},
        )  # fmt: skip
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApplicationError(
            _("The file is not UTF-8 text."), code="invalid_file", fields={"file": [_("Save the file as UTF-8 CSV.")]}
        ) from None
    rows = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
            value = cells[0].strip() if cells else ""
            if not value and not any(c.strip() for c in cells):
                continue
            if number == 1 and value.lower() in HEADERS:
                continue
            rows.append((number, value))
    except csv.Error:
        raise ApplicationError(
            _("The file is not a valid CSV file."), code="invalid_file", fields={"file": [_("Not CSV.")]}
        ) from None
    if not rows:
        raise ApplicationError(_("The file holds no customers."), code="empty_file", fields={"file": [_("The file is empty.")]})
    if len(rows) > MAX_ROWS:
        raise ApplicationError(
            _("A list holds at most %(max)d customers.") % {"max": MAX_ROWS}, code="file_too_large",
            fields={"file": [_("Too many rows.")]},
        )  # fmt: skip
    return rows


def _resolve(rows: list[tuple[int, str]]) -> tuple[list[tuple[int, int]], list[RowError]]:
    """Each row's customer id, or the reasons rows name nobody usable (two queries whatever the size)."""
    emails = {v.lower() for _n, v in rows if "@" in v}
    numbers = {v.upper() for _n, v in rows if "@" not in v}
    by_number = {
        n: (pk, erased)
        for pk, n, erased in Customer.objects.filter(customer_number__in=numbers).values_list(
            "pk", "customer_number", "anonymized_at"
        )
    }
    by_email: dict[str, list[tuple[int, object]]] = {}
    if emails:
        found = Customer.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=emails)
        for pk, email, erased in found.values_list("pk", "email_lower", "anonymized_at"):
            by_email.setdefault(email, []).append((pk, erased))
    members, errors, seen = [], [], {}
    for number, value in rows:
        if "@" in value:
            try:
                validate_email(value)
            except ValidationError:
                errors.append(RowError(number, value, _("This is not a valid e-mail address.")))
                continue
            matches = by_email.get(value.lower(), [])
            live = [m for m in matches if m[1] is None]
            if not matches:
                errors.append(RowError(number, value, _("No customer has this e-mail address.")))
                continue
            if not live:
                errors.append(RowError(number, value, _("This customer's data was erased.")))
                continue
            if len(live) > 1:
                errors.append(RowError(number, value, _("Several customers share this e-mail address: use customer numbers.")))
                continue
            pk = live[0][0]
        else:
            found_number = by_number.get(value.upper())
            if found_number is None:
                errors.append(RowError(number, value, _("No customer has this customer number.")))
                continue
            if found_number[1] is not None:
                errors.append(RowError(number, value, _("This customer's data was erased.")))
                continue
            pk = found_number[0]
        if pk in seen:
            errors.append(RowError(number, value, _("The same customer as row %(row)d.") % {"row": seen[pk]}))
            continue
        seen[pk] = number
        members.append((number, pk))
    return members, errors


@transaction.atomic
def static_list_import(
    *, name: str, content: bytes, description: str = "", filename: str = "", by: User | None = None
) -> StaticList:
    """A new static list from a CSV file; any bad row refuses the whole file (``ImportRejected``)."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 120 or any(c in name for c in "\r\n\t"):
        raise ApplicationError(_("Enter a name of 1 to 120 characters on one line."), fields={"name": [_("Enter a name.")]})
    if StaticList.objects.filter(name__iexact=name).exists():
        raise ApplicationError(
            _("A list with this name already exists."), code="list_name_taken", fields={"name": [_("Choose another name.")]}
        )
    rows = _rows(content)
    members, errors = _resolve(rows)
    if errors:
        raise ImportRejected(
            _("%(bad)d of %(total)d rows are not valid; nothing was imported.") % {"bad": len(errors), "total": len(rows)},
            errors=errors,
            total=len(rows),
        )
    static_list = StaticList.objects.create(
        name=name, description=(description or "").strip()[:2000], size=len(members), source_filename=filename[:200],
        created_by=by,
    )  # fmt: skip
    StaticListMember.objects.bulk_create(
        [StaticListMember(static_list=static_list, customer_id=pk, row=row) for row, pk in members], batch_size=2000
    )
    return static_list
