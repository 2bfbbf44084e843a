"""One error shape for every failure, and never a 500 for bad input.

A table of malformed requests (bodies, query strings, paths, headers) is fired at every crm endpoint
as a back-office user, a passenger and an anonymous client; every answer must be below 500 and
every 4xx must be ``{"error": {"code", "message", "fields"}}``.
"""

import json

import pytest

from crm.models import Customer
from tests.crm.factories import CustomerFactory, LeadFactory

KEYS = (
    "given_name", "family_name", "email", "phone", "date_of_birth", "nationality", "special_assistance", "passport_number",
    "channel", "purpose", "granted", "method", "loser", "status", "note", "lost_reason", "customer_number", "source",
    "referred_by", "owner", "username", "password",
)  # fmt: skip

JSON = "application/json"
BODIES = {
    "truncated json": (b'{"given_name": ', JSON),
    "not json at all": (b"<xml>hello</xml>", JSON),
    "array instead of object": (b"[1, 2, 3]", JSON),
    "array of objects": (json.dumps([{"given_name": "A", "family_name": "B"}]).encode(), JSON),
    "bare string": (b'"hello"', JSON),
    "bare number": (b"42", JSON),
    "null document": (b"null", JSON),
    "empty body": (b"", JSON),
    "NaN": (b'{"given_name": NaN}', JSON),
    "invalid utf-8": (b'{"given_name": "\xff\xfe"}', JSON),
    "nested too deeply": (b"[" * 100_000 + b"]" * 100_000, JSON),
    "nulls everywhere": (json.dumps(dict.fromkeys(KEYS)).encode(), JSON),
    "objects everywhere": (json.dumps({k: {"$gt": ""} for k in KEYS}).encode(), JSON),
    "arrays everywhere": (json.dumps({k: [1, [2]] for k in KEYS}).encode(), JSON),
    "numbers everywhere": (json.dumps(dict.fromkeys(KEYS, 1e308)).encode(), JSON),
    "huge strings": (json.dumps(dict.fromkeys(KEYS, "x" * 100_000)).encode(), JSON),
    "NUL characters": (json.dumps(dict.fromkeys(KEYS, "a\u0000b")).encode(), JSON),
    "lone surrogates": (b"{" + b", ".join(b'"%s": "\\ud800"' % k.encode() for k in KEYS) + b"}", JSON),
    "wrong types": (
        json.dumps(
            {
                "given_name": {"a": 1},
                "family_name": [1],
                "granted": "maybe",
                "channel": 5,
                "status": [],
                "loser": {"x": 1},
                "password": ["x"],
                "customer_number": {},
                "date_of_birth": 12,
                "special_assistance": "WCHR",
                "username": None,
            }
        ).encode(),
        JSON,
    ),  # fmt: skip
    "body over the upload limit": (json.dumps({"given_name": "x" * 3_000_000}).encode(), JSON),
    "plain text": (b"given_name=A", "text/plain"),
    "xml": (b"<customer/>", "application/xml"),
    "form with junk": (
        b"given_name=%ED%A0%80&special_assistance=XX&granted=maybe&loser=%00",
        "application/x-www-form-urlencoded",
    ),
    "broken multipart": (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    "multipart without boundary": (b"abc", "multipart/form-data"),
}

QUERIES = [
    "page=abc", "page=0", "page=-1", "page=999999", "page=1e9", "page_size=abc", "page_size=-5", "page_size=99999999999999999999",
    "ordering=passport_number", "ordering=-nonexistent", "ordering=%00", "search=%00", "search=%ED%A0%80",
    "search=" + "x" * 5000, "created_after=2024-99-99", "created_before=yesterday", "nationality=ZZZZ", "nationality=%00",
    "gender=%00", "home_airport=%00", "status=%00", "source=[]", "owner=%00", "owner=" + "y" * 500, "format=xml",
    "format=%00", "search=a&search=b", "page=1&page=2",
]  # fmt: skip

# (method, path template); {customer} and {lead} are real objects, so the request reaches the view's body.
ENDPOINTS = [
    ("post", "/api/v1/auth/token/"),
    ("get", "/api/v1/customers/"),
    ("post", "/api/v1/customers/"),
    ("get", "/api/v1/customers/{customer}/"),
    ("patch", "/api/v1/customers/{customer}/"),
    ("get", "/api/v1/customers/{customer}/consents/"),
    ("post", "/api/v1/customers/{customer}/consents/"),
    ("get", "/api/v1/customers/{customer}/timeline/"),
    ("get", "/api/v1/customers/{customer}/export/"),
    ("post", "/api/v1/customers/{customer}/merge/"),
    ("get", "/api/v1/leads/"),
    ("post", "/api/v1/leads/"),
    ("get", "/api/v1/leads/{lead}/"),
    ("patch", "/api/v1/leads/{lead}/"),
    ("post", "/api/v1/leads/{lead}/advance/"),
    ("post", "/api/v1/leads/{lead}/convert/"),
    ("get", "/api/v1/me/"),
    ("patch", "/api/v1/me/"),
    ("delete", "/api/v1/me/"),
    ("get", "/api/v1/me/consents/"),
    ("post", "/api/v1/me/consents/"),
    ("get", "/api/v1/me/export/"),
]

# ("%2F" is left out: it decodes to "/", no API route matches, and Django's own 404 page answers; see api_not_found.)
BAD_CUSTOMER_NUMBERS = ["ZZZZZZZZ", "%00", "%ED%A0%80", "A" * 5000, "ÄÖÜ", "..", "a.b", "1%20OR%201=1", "-1", "K7P2XQ9M.json"]
BAD_LEAD_IDS = ["0", "-1", "abc", "99999999999999999999999", "1e5", "%00", "1.5", " 1"]


def assert_error_shape(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), f"{what}: {response['Content-Type']}"
        body = response.json()
        assert set(body) == {"error"}, f"{what}: {body}"
        error = body["error"]
        assert set(error) == {"code", "message", "fields"}, f"{what}: {body}"
        assert isinstance(error["code"], str) and error["code"], what
        assert isinstance(error["message"], str) and error["message"], what
        assert isinstance(error["fields"], dict), what
        assert all(isinstance(m, list) and all(isinstance(x, str) for x in m) for m in error["fields"].values()), what


pytestmark = pytest.mark.usefixtures("generous_throttles")


@pytest.fixture
def objects(db):
    return {"customer": CustomerFactory().customer_number, "lead": LeadFactory().pk}


def _fire(client, method: str, path: str, body: bytes = b"", content_type: str = JSON, **headers):
    return client.generic(method.upper(), path, body, content_type=content_type, **headers)


@pytest.mark.parametrize(("method", "template"), [e for e in ENDPOINTS if e[0] != "get"], ids=lambda v: str(v))
def test_malformed_bodies_never_cause_a_500(api_clients, objects, method, template):
    path = template.format(**objects)
    for who, client in api_clients.items():
        for name, (body, content_type) in BODIES.items():
            response = _fire(client, method, path, body, content_type)
            assert_error_shape(response, f"{who} {method.upper()} {path} with {name}")


@pytest.mark.parametrize(("method", "template"), [e for e in ENDPOINTS if e[0] == "get"], ids=lambda v: str(v))
def test_malformed_query_strings_never_cause_a_500(api_clients, objects, method, template):
    path = template.format(**objects)
    for who, client in api_clients.items():
        for query in QUERIES:
            response = _fire(client, method, f"{path}?{query}")
            assert_error_shape(response, f"{who} GET {path}?{query[:40]}")


@pytest.mark.parametrize(("method", "template"), [e for e in ENDPOINTS if "{" in e[1]], ids=lambda v: str(v))
def test_unknown_and_malformed_object_ids_are_a_404_in_the_error_shape(api_clients, objects, method, template):
    for who, client in api_clients.items():
        values = BAD_CUSTOMER_NUMBERS if "{customer}" in template else BAD_LEAD_IDS
        for value in values:
            path = template.format(customer=value, lead=value)
            response = _fire(client, method, path, b"{}")
            assert_error_shape(response, f"{who} {method.upper()} {path[:60]}")
            if who == "staff":
                assert response.status_code == 404, f"{path[:60]}: {response.status_code}"


@pytest.mark.parametrize(("method", "template"), ENDPOINTS, ids=lambda v: str(v))
def test_every_endpoint_answers_in_the_error_shape_to_unsupported_methods_and_media(api_clients, objects, method, template):
    path = template.format(**objects)
    for who, client in api_clients.items():
        for other in ("put", "options", "trace"):
            assert_error_shape(_fire(client, other, path, b"{}"), f"{who} {other.upper()} {path}")
        assert _fire(client, "head", path).status_code < 500  # HEAD answers carry no body
        assert_error_shape(
            _fire(client, method, path, b"{}", HTTP_ACCEPT="application/xml"), f"{who} {method} {path} Accept: xml"
        )
        assert_error_shape(
            _fire(client, method, path, b"{}", HTTP_AUTHORIZATION="Token \x00bogus"), f"{who} {method} {path} bad token"
        )
        assert_error_shape(_fire(client, method, path, b"{}", HTTP_AUTHORIZATION="Token"), f"{who} {method} {path} empty token")


@pytest.mark.parametrize(("method", "template"), ENDPOINTS, ids=lambda v: str(v))
def test_format_suffixes_never_cause_a_500(api_clients, objects, method, template):
    # the router also routes /customers.json, /customers/X.json, /leads/1/advance.json ...
    path = template.format(**objects).rstrip("/")
    for who, client in api_clients.items():
        for suffix in (".json", ".api", ".xml", ".json/"):
            response = _fire(client, method, path + suffix, b"{}", HTTP_ACCEPT="application/json")
            assert_error_shape(response, f"{who} {method.upper()} {path}{suffix}")


def test_a_wrong_media_type_is_a_415(supervisor, api_as):
    response = _fire(api_as(supervisor), "post", "/api/v1/customers/", b"given_name=A", "text/plain")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_malformed_json_is_a_400_parse_error_and_creates_nothing(supervisor, api_as):
    response = _fire(api_as(supervisor), "post", "/api/v1/customers/", b'{"given_name": ')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert not Customer.objects.exists()


def test_a_body_over_the_upload_limit_is_a_413(supervisor, api_as):
    body, content_type = BODIES["body over the upload limit"]
    response = _fire(api_as(supervisor), "post", "/api/v1/customers/", body, content_type)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_an_unacceptable_accept_header_is_a_406_in_json(supervisor, api_as):
    response = api_as(supervisor).get("/api/v1/customers/", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


def test_validation_errors_fill_fields_with_lists_of_messages(supervisor, api_as):
    response = api_as(supervisor).post("/api/v1/customers/", {"given_name": None, "family_name": ["x"]}, format="json")
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "invalid"
    assert set(error["fields"]) == {"given_name", "family_name"}


def test_an_unpaired_surrogate_in_json_is_a_400_not_a_500(supervisor, api_as):
    # given JSON that is well-formed but holds half of a UTF-16 pair, which no database or encoder accepts
    body = b'{"channel": "\\ud800", "purpose": "marketing", "granted": true}'
    customer = CustomerFactory()
    # when it is posted where the value would be echoed back in a "not a valid choice" message
    response = _fire(api_as(supervisor), "post", f"/api/v1/customers/{customer.customer_number}/consents/", body)
    # then it is refused as malformed JSON
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_api_not_found_answers_in_the_error_shape(rf):
    from crm.api_support import api_not_found

    response = api_not_found(rf.get("/api/v1/no-such-thing/"))
    assert response.status_code == 404
    assert json.loads(response.content) == {"error": {"code": "not_found", "message": "No such API endpoint.", "fields": {}}}


def test_unknown_api_path_answers_in_the_error_shape(api_client):
    response = api_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_malformed_session_cookie_is_ignored_not_a_500(client, db):
    client.cookies["sessionid"] = "abc\x00def"
    response = client.get("/api/v1/customers/")
    assert response.status_code in (401, 403)


def test_api_docs_load_their_assets_from_this_site(client, db):
    response = client.get("/api/docs/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "cdn." not in html and "<script>" not in html.replace(" ", "")
