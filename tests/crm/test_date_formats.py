"""Dates and times in each language's own way: English as an airline writes it (en-GB: day month year,
24-hour clock), never the US month/day and "p.m."; Chinese 年月日 with the 24-hour clock.
"""

from __future__ import annotations

import datetime

import pytest
from django.template import Context, Template
from django.utils import formats, translation

from crm.templatetags.airline_format import local_date

MOMENT = datetime.datetime(2026, 3, 5, 14, 30)


@pytest.mark.parametrize(
    ("language", "name", "expected"),
    [
        ("en", "DATE_FORMAT", "5 Mar 2026"),
        ("en", "SHORT_DATE_FORMAT", "05/03/2026"),
        ("en", "DATETIME_FORMAT", "5 Mar 2026, 14:30"),
        ("en", "SHORT_DATETIME_FORMAT", "05/03/2026 14:30"),
        ("en", "TIME_FORMAT", "14:30"),
        ("en", "YEAR_MONTH_FORMAT", "March 2026"),
        ("en", "MONTH_DAY_FORMAT", "5 March"),
        ("zh-hans", "DATE_FORMAT", "2026年3月5日"),
        ("zh-hans", "SHORT_DATE_FORMAT", "2026年3月5日"),
        ("zh-hans", "DATETIME_FORMAT", "2026年3月5日 14:30"),
        ("zh-hans", "SHORT_DATETIME_FORMAT", "2026年3月5日 14:30"),
        ("zh-hans", "TIME_FORMAT", "14:30"),
    ],
)
def test_each_language_formats_dates_its_own_way(language, name, expected):
    # given 5 March 2026 at 14:30, when it is shown in the language, then it reads the language's way
    with translation.override(language):
        assert formats.date_format(MOMENT, name) == expected


def test_english_weeks_start_on_monday():
    with translation.override("en"):
        assert formats.get_format("FIRST_DAY_OF_WEEK") == 1


@pytest.mark.parametrize(("language", "expected"), [("en", "Seats held until 14:30."), ("zh-hans", "14:30")])
def test_a_time_at_the_end_of_a_sentence_has_one_full_stop(language, expected):
    # given the sentence the trip page shows for a held booking
    template = Template(
        '{% load i18n %}{% blocktranslate trimmed with time=moment|time:"TIME_FORMAT" %}'
        "Seats held until {{ time }}.{% endblocktranslate %}"
    )
    # when it is rendered in the language
    with translation.override(language):
        text = template.render(Context({"moment": MOMENT}))
    # then the 24-hour time is followed by a single full stop: never "2:30 p.m.."
    assert expected in text
    assert "p.m." not in text and ".." not in text


@pytest.mark.parametrize(("language", "expected"), [("en", "14 Mar 2027"), ("zh-hans", "2027年3月14日")])
def test_an_e_mails_iso_date_is_shown_in_the_readers_format(language, expected):
    # given a date as an e-mail keeps it (ISO), when shown in the language, then in its format
    with translation.override(language):
        assert local_date("2027-03-14") == expected
        assert local_date(datetime.date(2027, 3, 14)) == expected
    # and something that is not a date is left as it is
    assert local_date("soon") == "soon" and local_date(None) == ""
