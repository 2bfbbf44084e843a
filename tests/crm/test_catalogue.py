"""The Chinese catalogue is complete: every string the project marks for translation, in every app's Python
and templates, has a Simplified Chinese translation that is neither missing nor fuzzy.

The strings are extracted the way the catalogue is maintained (``makemessages -l zh_Hans``), into a scratch
copy of the sources and of locale/zh_Hans; the repository's own files are left as they are. msgmerge marks
an entry fuzzy when its msgid is new but close to an old one: such a guess is reported like a missing one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command

ROOT = Path(settings.BASE_DIR)
CATALOGUE = Path("locale") / "zh_Hans" / "LC_MESSAGES" / "django.po"
# What makemessages is told to leave out when the catalogue is updated (see the README).
NOT_SOURCES = {".venv", "tests", "bench", "staticfiles", "node_modules", "locale", "media"}
IGNORED = [".venv", "tests", "bench", "staticfiles", "node_modules", "*.egg-info"]


def source_folders() -> list[Path]:
    return sorted(
        path
        for path in ROOT.iterdir()
        if path.is_dir()
        and not path.name.startswith(".")
        and path.name not in NOT_SOURCES
        and not path.name.endswith(".egg-info")
    )


def describe(message) -> str:  # noqa: ANN001
    text = message.id[0] if isinstance(message.id, tuple | list) else message.id
    where = ", ".join(f"{path}:{line}" for path, line in message.locations[:2])
    state = "fuzzy" if message.fuzzy else "untranslated"
    context = f"[{message.context}] " if message.context else ""
    return f"{state}: {context}{text!r} ({where})"


def test_every_marked_string_has_a_chinese_translation(tmp_path, settings, monkeypatch):
    # given a scratch copy of the sources (code and templates) and of the Chinese catalogue
    original = (ROOT / CATALOGUE).read_bytes()
    for folder in source_folders():
        shutil.copytree(folder, tmp_path / folder.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "static"))
    (tmp_path / CATALOGUE).parent.mkdir(parents=True)
    shutil.copyfile(ROOT / CATALOGUE, tmp_path / CATALOGUE)
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)
    # when makemessages brings the copy up to date with the strings the sources mark
    call_command("makemessages", locale=["zh_Hans"], ignore_patterns=IGNORED, verbosity=0)
    # then the repository's catalogue is as it was
    assert (ROOT / CATALOGUE).read_bytes() == original
    # and no entry is left without a Chinese translation, or with one marked fuzzy
    with (tmp_path / CATALOGUE).open("rb") as po:
        catalogue = read_po(po)
    assert len(catalogue) > 1000, "the extraction found too few strings: were the sources copied?"
    open_entries = [
        describe(message)
        for message in catalogue
        if message.id
        and (message.fuzzy or not all(message.string if isinstance(message.string, tuple | list) else [message.string]))
    ]
    assert not open_entries, f"{len(open_entries)} entries of {CATALOGUE} need a translation:\n" + "\n".join(open_entries)
