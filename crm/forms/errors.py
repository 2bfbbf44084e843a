"""A service's refusal (``ApplicationError``) shown on the HTML forms that asked for it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django import forms

from crm.errors import ApplicationError

# Where a key of ``ApplicationError.fields`` belongs on a page of several forms: a form and one of its
# fields, or that form's top (None); None when the key belongs to no form of the page.
Placer = Callable[[str], "tuple[forms.BaseForm, str | None] | None"]


def add_application_error(
    form: forms.BaseForm | None,
    error: ApplicationError,
    *,
    field_map: Mapping[str, str] | None = None,
    place: Placer | None = None,
) -> list[str]:
    """Show the refusal beside the fields it names, the rest above ``form``; return what went above.

    A key of ``error.fields`` names a field of ``form`` (renamed through ``field_map`` where the service
    and the form call it differently), or ``place`` sends it to another form of the page, such as the
    second traveller's. A message whose key names no field goes above ``form``, and so does
    ``error.message`` when the error names no field at all. A page without a form of its own passes
    ``form=None`` and shows the returned messages itself.
    """
    field_map = field_map or {}
    top: list[str] = []
    for key, value in error.fields.items():
        messages = [str(value)] if isinstance(value, str) else [str(m) for m in value]
        target = place(key) if place is not None else None
        if target is None and form is not None:
            name = field_map.get(key, key)
            target = (form, name) if name in form.fields else None
        if target is None:
            top.extend(messages)
            continue
        target_form, name = target
        target_form.add_error(name if name in target_form.fields else None, messages)
    if not error.fields:
        top.append(error.message)
    if form is not None and top:
        form.add_error(None, top)
    return top
