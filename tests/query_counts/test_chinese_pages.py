"""Every portal page read in Chinese shows no English of ours: no word of the catalogue's English outside a name.

The words that count as English are those of the catalogue's own msgids (the interface's vocabulary), so a
string left unmarked, or marked and not translated, shows up here by the words it is made of. Proper names
(people, places, the airline's), codes and numbers are not words of the interface and are not flagged.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.db import transaction
from django.test import Client

from crm.models import Customer
from reservations.models import BookingPassenger
from tests.query_counts import world as worlds
from tests.query_counts.pages import ANONYMOUS, PAGES, PASSENGER

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
WORD = re.compile(r"[A-Za-z][a-z]+")
# Words of the interface that are also names people read as they are in Chinese pages.
NAMES = {"aurora", "air", "visa", "mastercard", "amex", "pdf", "csv", "email", "google", "apple", "wallet"}


def _vocabulary() -> set[str]:
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f)
    words: set[str] = set()
    for message in catalogue:
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        for text in ids:
            # placeholders and markup are not words a reader sees
            text = re.sub(r"%\(\w+\)[sdf]|\{\w*\}|<[^>]+>|&\w+;", " ", text or "")
            words |= {w.lower() for w in WORD.findall(text) if len(w) > 2}
    return words - NAMES


# Names the query-count world gives its objects (aircraft, households, campaigns): data, not interface.
# "welcome" is the reason the world's agent wrote on a goodwill miles adjustment: an agent's own words, which
# the statement shows as written next to the translated kind of entry.
DATA = {"query", "count", "test", "aircraft", "asked", "pool", "sale", "campaign", "results", "ics", "welcome"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Text(HTMLParser):
    """The text a reader sees: no scripts, styles or hidden templates, nor what is marked as another language
    (the language switcher names English in English); attribute text that is read aloud too."""

    SKIP = {"script", "style", "template", "code", "pre"}
    READ = {"placeholder", "aria-label", "title", "alt"}

    def __init__(self) -> None:
        super().__init__()
        self.skipping = 0
        self.open: list[tuple[str, bool]] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        lang = dict(attrs).get("lang") or ""
        skip = tag in self.SKIP or (tag != "html" and bool(lang) and not lang.lower().startswith("zh"))
        if tag not in VOID:
            self.open.append((tag, skip))
        if skip:
            self.skipping += 1
            return
        for name, value in attrs:
            if name in self.READ and value:
                self.parts.append(value)
            if tag == "input" and name == "value" and dict(attrs).get("type") in ("submit", "button") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        # the nearest open element of this name closes (HTML lets some end tags be left out)
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                self.skipping -= sum(1 for _t, skip in self.open[index:] if skip)
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _english(html: str, vocabulary: set[str], names: set[str]) -> list[str]:
    parser = _Text()
    parser.feed(html)
    found = []
    for part in parser.parts:
        part = re.sub(r"\S+@\S+|https?://\S+", " ", part)  # addresses and links are names too
        for word in WORD.findall(part):
            if len(word) > 2 and word.lower() in vocabulary and word.lower() not in names | DATA:
                found.append(word)
    return found


@pytest.mark.django_db
@pytest.mark.timeout(300)
def test_every_portal_page_in_chinese_has_no_english_of_ours(generous_throttles, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    vocabulary = _vocabulary()
    pages = [p for p in PAGES if p.who in (PASSENGER, ANONYMOUS)]
    problems = []
    with transaction.atomic():
        world = worlds.build("small")
        # The world's people and places are names, whatever language they are in.
        people = [
            *Customer.objects.values_list("given_name", "family_name"),
            *BookingPassenger.objects.values_list("given_name", "family_name"),
        ]
        names = {w.lower() for pair in people for part in pair for w in WORD.findall(part or "")}
        for page in pages:
            url = page.url(world)
            if not url.startswith("/") or url.startswith(("/office/", "/api/", "/t/")):
                continue
            client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
            if page.who == PASSENGER:
                user = type(world.passenger).objects.get(pk=world.passenger.pk)
                client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
            if page.prepare is not None:
                page.prepare(client, world)
            response = client.get(url)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            english = _english(response.content.decode(), vocabulary, names)
            if english:
                problems.append(f"{page.key} ({url}): {' '.join(sorted(set(english)))}")
        transaction.set_rollback(True)
    assert not problems, "English left on Chinese pages:\n" + "\n".join(problems)
