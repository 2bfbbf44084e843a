"""Search text never reaches a log.

The customer search box takes passport and ID numbers (as well as names, e-mail addresses and phone
numbers), and it is a GET form: the text is in the query string, which the web server's access log and
the ``Referer`` of the next page would both record. Searches stay GET (a search can be bookmarked,
reloaded and paged, and the API's ``?search=`` is documented), and the logs instead drop the value of
every search parameter: gunicorn's access log through ``GunicornLogger`` (``gunicorn.conf.py``), and
Django's own logging through ``RedactSearchFilter`` on its handler.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

# The query parameters that carry search text or a document number, wherever a URL appears in a line.
SEARCH_PARAMETERS = ("q", "search", "passport_number", "national_id_number")
REDACTED = "[redacted]"
_NAMES = "|".join(SEARCH_PARAMETERS)
# A parameter at the start of a query string, after ? & or ;, or after their URL-encoded forms (%3F, %26: a
# search URL inside another URL's parameter, such as the login page's ?next=); its value runs to the next one.
_SEARCH_VALUE = re.compile(
    rf"(?P<key>(?:^|(?<=[?&;])|(?<=%3F)|(?<=%26))(?:{_NAMES})(?:=|%3D))(?:(?!%26)[^&;#\s\"'])*", re.IGNORECASE
)


def redact(text: str) -> str:
    """``/office/customers/?q=X1234567&page=2`` -> ``/office/customers/?q=[redacted]&page=2``."""
    if "=" not in text:
        return text
    return _SEARCH_VALUE.sub(lambda match: match.group("key") + REDACTED, text)


class RedactSearchFilter(logging.Filter):
    """On a handler: the formatted message with search values removed (e.g. ``runserver``'s request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class GunicornLogger(Logger):
    """gunicorn's logger, with search values removed from every access-log atom (request line, query
    string, Referer, any header or environ value a custom format names)."""

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}
