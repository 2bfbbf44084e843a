"""The OpenAPI schema is valid, documents every crm endpoint with the error shape, and the docs page renders."""

import pytest
import yaml
from django.core.management import call_command

CRM_OPERATIONS = {
    ("post", "/api/v1/auth/token/"),
    ("get", "/api/v1/customers/"),
    ("post", "/api/v1/customers/"),
    ("get", "/api/v1/customers/{customer_number}/"),
    ("patch", "/api/v1/customers/{customer_number}/"),
    ("get", "/api/v1/customers/{customer_number}/consents/"),
    ("post", "/api/v1/customers/{customer_number}/consents/"),
    ("get", "/api/v1/customers/{customer_number}/timeline/"),
    ("get", "/api/v1/customers/{customer_number}/export/"),
    ("post", "/api/v1/customers/{customer_number}/merge/"),
    ("get", "/api/v1/leads/"),
    ("post", "/api/v1/leads/"),
    ("get", "/api/v1/leads/{id}/"),
    ("patch", "/api/v1/leads/{id}/"),
    ("post", "/api/v1/leads/{id}/advance/"),
    ("post", "/api/v1/leads/{id}/convert/"),
    ("get", "/api/v1/me/"),
    ("patch", "/api/v1/me/"),
    ("delete", "/api/v1/me/"),
    ("get", "/api/v1/me/consents/"),
    ("post", "/api/v1/me/consents/"),
    ("get", "/api/v1/me/export/"),
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    """Generated once, validated against the OpenAPI spec, failing on any drf-spectacular warning."""
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_is_valid_openapi_without_warnings(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]


def test_every_crm_endpoint_is_documented(schema):
    documented = {(method, path) for path, ops in schema["paths"].items() for method in ops if method != "parameters"}
    assert documented >= CRM_OPERATIONS


def test_every_crm_operation_documents_the_error_shape(schema):
    error_ref = "#/components/schemas/ErrorResponse"
    assert set(schema["components"]["schemas"]["ErrorResponse"]["properties"]) == {"error"}
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"code", "message", "fields"}
    for method, path in CRM_OPERATIONS:
        responses = schema["paths"][path][method]["responses"]
        for code in ("400", "429"):
            assert responses[code]["content"]["application/json"]["schema"]["$ref"] == error_ref, (method, path, code)
        if path != "/api/v1/auth/token/":
            assert {"401", "403"} <= set(responses), (method, path)
        if "{" in path or path.startswith("/api/v1/me/"):
            assert "404" in responses, (method, path)


def test_operations_have_request_and_response_bodies(schema):
    customer_create = schema["paths"]["/api/v1/customers/"]["post"]
    assert customer_create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CustomerInputRequest")
    assert customer_create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/Customer")
    timeline = schema["paths"]["/api/v1/customers/{customer_number}/timeline/"]["get"]["responses"]["200"]
    assert timeline["content"]["application/json"]["schema"]["$ref"].endswith("/PaginatedTimelineEntryList")
    search = {p["name"] for p in schema["paths"]["/api/v1/customers/"]["get"]["parameters"]}
    assert {"search", "page", "page_size", "ordering", "nationality", "created_after"} <= search


def test_schema_endpoint_serves_the_schema(db, client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/v1/customers/" in response.json()["paths"]


def test_docs_page_renders(db, client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower()


def test_customer_endpoints_document_the_redirect_of_a_merged_away_number(schema):
    # A read answers 301 and a write 308, in the error shape, for a number merged into another record
    read = schema["paths"]["/api/v1/customers/{customer_number}/"]["get"]["responses"]
    write = schema["paths"]["/api/v1/customers/{customer_number}/"]["patch"]["responses"]
    assert "merged" in read["301"]["description"] and "308" not in read
    assert "merged" in write["308"]["description"] and "301" not in write
    assert "301" not in schema["paths"]["/api/v1/customers/"]["get"]["responses"]
