from decimal import Decimal

from django.template import Context, Template
from django.utils import translation


def render(text: str, **context) -> str:
    return Template("{% load airline_format %}" + text).render(Context(context))


def test_money_is_formatted_for_the_current_language():
    # given an amount in Chinese yuan
    amount = Decimal("1234.5")
    # when rendered in English and in Simplified Chinese
    with translation.override("en"):
        english = render("{{ a|money:'CNY' }}", a=amount)
    with translation.override("zh-hans"):
        chinese = render("{{ a|money:'CNY' }}", a=amount)
    # then each uses its own conventions, and no float rounding creeps in
    assert english == "CN¥1,234.50"
    assert chinese == "¥1,234.50"


def test_money_renders_nothing_for_garbage():
    assert render("{{ a|money:'EUR' }}", a="not a number") == ""
