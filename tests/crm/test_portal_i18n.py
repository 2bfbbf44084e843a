"""The portal in English and Simplified Chinese: the switcher, translated pages and e-mails, dates for the language."""

import datetime
import gettext
import re
from pathlib import Path

from babel.messages.pofile import read_po
from django.conf import settings
from django.core import mail
from django.urls import reverse

from crm.models import ConsentEvent
from crm.services import customer_update

SETLANG = "/i18n/setlang/"
LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
# Where the portal's strings live.
PORTAL_SOURCES = (
    "templates/base.html",
    "templates/lockout.html",
    "templates/portal/",
    "templates/emails/crm/",
    "crm/views/portal.py",
    "crm/forms/accounts.py",
    "crm/forms/profile.py",
    "crm/models.py",
)


def is_portal_string(message) -> bool:
    return any(path.startswith(PORTAL_SOURCES) for path, _line in message.locations)


def switch_language(client, language: str, next_url: str = "/"):
    return client.post(SETLANG, {"language": language, "next": next_url})


def test_choosing_chinese_in_the_switcher_shows_the_home_page_in_chinese(db, client):
    # given an anonymous visitor on the English home page
    assert "Welcome to Aurora Air" in client.get("/").content.decode()
    # when they choose 简体中文 in the header
    response = switch_language(client, "zh-hans")
    assert response.status_code == 302 and response.url == "/"
    # then the home page is in Chinese
    page = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "欢迎来到 Aurora Air" in page and "登录" in page and "注册" in page and "跳到主要内容" in page
    assert "Welcome to Aurora Air" not in page
    # and they can switch back
    switch_language(client, "en")
    assert "Welcome to Aurora Air" in client.get("/").content.decode()


def test_the_switcher_works_for_a_logged_in_passenger_and_translates_choices_and_countries(passenger, passenger_client):
    user, customer = passenger
    customer_update(customer=customer, data={"meal_preference": "VGML", "nationality": "CN", "title": "MR"})
    # when the passenger switches to Chinese on their profile page
    response = switch_language(passenger_client, "zh-hans", reverse("portal:profile"))
    assert response.url == reverse("portal:profile")
    page = passenger_client.get(reverse("portal:profile")).content.decode()
    # then labels, legends, model choices and country names are Chinese
    for text in (
        "我的资料",
        "旅行证件",
        "紧急联系人",
        "护照号码",
        "纯素餐 (VGML)",
        "先生",
        "靠窗",
        "公务舱",
        "探亲访友",
        "中国",
        "保存我的资料",
    ):
        assert text in page, text
    consent_page = passenger_client.get(reverse("portal:consent")).content.decode()
    for text in ("联系偏好", "短信", "营销信息", "服务通知", "保存我的偏好"):
        assert text in consent_page, text


def test_validation_errors_are_in_the_passengers_language(passenger, passenger_client):
    switch_language(passenger_client, "zh-hans")
    form = passenger_client.get(reverse("portal:profile")).context["form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() not in (None, "", [])}
    response = passenger_client.post(reverse("portal:profile"), {**data, "home_airport": "XQZ", "given_name": ""})
    page = response.content.decode()
    assert "请更正以下问题" in page and "这个字段是必填项。" in page


def test_dates_and_times_are_formatted_for_the_language(passenger, passenger_client):
    # given a consent recorded at a known moment
    _, customer = passenger
    ConsentEvent.objects.create(
        customer=customer,
        channel="sms",
        purpose="marketing",
        granted=True,
        source="office",
        recorded_at=datetime.datetime(2026, 3, 5, 14, 30, tzinfo=datetime.UTC),
    )
    # then the history shows it the airline's English way (day/month/year, 24-hour clock), and the Chinese
    # way after switching
    english = passenger_client.get(reverse("portal:consent")).content.decode()
    assert "05/03/2026 14:30" in english and "p.m." not in english
    switch_language(passenger_client, "zh-hans")
    chinese = passenger_client.get(reverse("portal:consent")).content.decode()
    assert "2026年3月5日 14:30" in chinese and "后台客服人员" in chinese


def test_the_verification_email_is_in_the_language_chosen_at_registration(db, client, django_capture_on_commit_callbacks):
    password = "Chang-Cheng-Great-Wall-88"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("portal:register"),
            {
                "email": "li.na@example.com",
                "given_name": "娜",
                "family_name": "李",
                "password1": password,
                "password2": password,
                "preferred_language": "zh-hans",
            },
        )
    message = mail.outbox[0]
    assert message.subject == "确认您在 Aurora Air 的电子邮箱"
    assert "娜，您好" in message.body and "该链接只能使用一次" in message.body
    html = message.alternatives[0][0]
    assert '<html lang="zh-hans">' in html and "确认我的电子邮箱" in html


def test_every_portal_string_has_a_chinese_translation_and_none_is_fuzzy():
    # given the catalogue in the repository
    with open(LOCALE_DIR / "django.po", "rb") as f:
        catalog = read_po(f, locale="zh_Hans")
    # then no entry is fuzzy, and every portal string is translated
    assert not catalog.fuzzy
    assert [m.id for m in catalog if m.id and m.fuzzy] == []
    untranslated = [
        m.id for m in catalog if m.id and is_portal_string(m) and not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    assert untranslated == []
    # and the compiled catalogue Django loads is the same as the source
    with open(LOCALE_DIR / "django.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    for message in catalog:
        if message.id and not isinstance(message.id, tuple) and message.string:
            key = f"{message.context}\x04{message.id}" if message.context else message.id
            assert compiled._catalog.get(key) == message.string, message.id


def test_language_choices_name_each_language_in_itself_marked_as_such_like_the_switcher(passenger, passenger_client, client):
    # given a passenger and a visitor reading the portal in Chinese
    switch_language(passenger_client, "zh-hans")
    switch_language(client, "zh-hans")

    # when they open the pages where a preferred language is chosen
    pages = {
        "register": client.get(reverse("portal:register")).content.decode(),
        "profile": passenger_client.get(reverse("portal:profile")).content.decode(),
        "marketing": passenger_client.get(reverse("marketing_portal:marketing_preferences")).content.decode(),
    }

    # then the form offers English as "English" marked as English, as the header's switcher does, and Chinese
    # as itself, so that each is read out in its own language
    for name, page in pages.items():
        form = page.split("</header>", 1)[1]
        assert re.search(r'<option value="en"( selected)? lang="en">English</option>', form), name
        assert re.search(r'<option value="zh-hans"( selected)? lang="zh-hans">简体中文</option>', form), name
