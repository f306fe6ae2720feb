"""The webhook operations of the API (`CreateWebhook`, `ListWebhooks`, `DeleteWebhook`):
formats, roles, another account's webhook as a 404, and the secret shown only on creation."""

import csv
import io
import json
from xml.etree import ElementTree

import pytest

from sessions_app.models import Role
from sessions_app.webhooks.models import WebhookSubscription
from tests.conftest import api_client_as, encode_request, error_status, wire_fields
from tests.factories import UserFactory
from tests.webhooks.conftest import subscribe

NS = "{http://schemas.datacontract.org/2004/07/Voice.Api.Webhooks}"


@pytest.fixture
def manager_api(manager):
    return api_client_as(manager)


def table() -> list[dict]:
    return list(WebhookSubscription.objects.order_by("id").values())


def test_create_webhook_answers_the_subscription_with_its_secret_once(manager_api, account):
    response = manager_api.post(
        "/webhooks",
        {"url": "https://example.com/hook", "eventKinds": ["held", "session.ended"]},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    [stored] = WebhookSubscription.objects.all()
    assert body == {
        "id": stored.id,
        "accountId": account.id,
        "accountName": "Acme",
        "url": "https://example.com/hook",
        "eventKinds": ["held", "ended"],
        "active": True,
        "secret": stored.secret,
        "secretHint": stored.secret_hint,
        "createdBy": "mona",
        "dateCreated": body["dateCreated"],
    }
    assert body["secret"].startswith("whsec_")


@pytest.mark.parametrize("fmt", ["xml", "csv"])
def test_create_webhook_reads_and_answers_other_formats(manager_api, fmt):
    body, content_type = encode_request(
        fmt,
        "CreateWebhook",
        {"Url": "https://example.com/hook", "EventKinds": "held,resumed", "Active": "false"},
    )

    response = manager_api.post(
        f"/webhooks.{fmt}", body, content_type=content_type, HTTP_ACCEPT=content_type
    )

    assert response.status_code == 200, response.content
    stored = WebhookSubscription.objects.get()
    assert (stored.event_kinds, stored.active) == (["held", "resumed"], False)
    fields = wire_fields(response)
    assert fields["Secret"] == stored.secret
    assert fields["Active"] == "false"
    if fmt == "xml":
        kinds = fields["EventKinds"]
        assert [item.text for item in kinds] == ["held", "resumed"]
    else:
        assert fields["EventKinds"] == "[held,resumed]"


def test_list_webhooks_never_shows_a_secret(manager, manager_api, other_account):
    mine = subscribe(manager, "https://example.com/a")
    admin = UserFactory(role=Role.SYSTEM_ADMINISTRATOR)
    subscribe(admin, "https://example.com/theirs", account_id=other_account.id)

    response = manager_api.get("/webhooks")

    assert response.status_code == 200
    assert mine.secret.encode() not in response.content
    [listed] = json.loads(response.content)["webhooks"]
    assert listed["id"] == mine.id
    assert "secret" not in listed
    assert listed["secretHint"] == mine.secret_hint


def test_list_webhooks_as_csv_and_xml_one_row_each(manager, manager_api):
    first = subscribe(manager, "https://example.com/a")
    second = subscribe(manager, "https://example.com/b", event_kinds=["held"])

    as_csv = manager_api.get("/webhooks.csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert [(r["Id"], r["Url"], r["EventKinds"], r["Secret"]) for r in rows] == [
        (first.id, "https://example.com/a", "[]", ""),
        (second.id, "https://example.com/b", "[held]", ""),
    ]

    as_xml = manager_api.get("/webhooks?format=xml")
    root = ElementTree.fromstring(as_xml.content)
    assert root.tag == f"{NS}ListWebhooksResponse"
    ids = [item.find(f"{NS}Id").text for item in root.find(f"{NS}Webhooks")]
    assert ids == [first.id, second.id]
    assert first.secret.encode() not in as_xml.content


def test_list_webhooks_narrows_to_one_account(account, other_account):
    admin = UserFactory(role=Role.SYSTEM_ADMINISTRATOR)
    subscribe(admin, "https://example.com/a", account_id=account.id)
    theirs = subscribe(admin, "https://example.com/b", account_id=other_account.id)

    response = api_client_as(admin).get(f"/webhooks?accountId={other_account.id}")

    assert [w["id"] for w in json.loads(response.content)["webhooks"]] == [theirs.id]


def test_delete_webhook_removes_it(manager, manager_api):
    webhook = subscribe(manager, "https://example.com/a")

    response = manager_api.delete(f"/webhooks/{webhook.id}")

    assert response.status_code == 200
    assert json.loads(response.content)["id"] == webhook.id
    assert "secret" not in json.loads(response.content)
    assert table() == []


def test_another_accounts_webhook_is_a_404(manager_api, other_account):
    admin = UserFactory(role=Role.SYSTEM_ADMINISTRATOR)
    theirs = subscribe(admin, "https://example.com/b", account_id=other_account.id)
    before = table()

    response = manager_api.delete(f"/webhooks/{theirs.id}")

    assert response.status_code == 404
    assert error_status(response)["errorCode"] == "NotFound"
    assert table() == before


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/webhooks", {"url": "https://example.com/"}),
        ("get", "/webhooks", None),
        ("delete", "/webhooks/{id}", None),
        ("post", "/api/CreateWebhook", {"url": "https://example.com/"}),
    ],
)
def test_a_user_is_refused_with_invalid_role(user, manager, method, url, body):
    webhook = subscribe(manager, "https://example.com/kept")
    before = table()

    response = getattr(api_client_as(user), method)(
        url.replace("{id}", webhook.id), body, format="json"
    )

    assert response.status_code == 403
    assert error_status(response)["message"] == "Invalid Role"
    assert table() == before


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"url": "gopher://example.com/"}, "Url", "InvalidUrl"),
        ({}, "Url", "InvalidUrl"),
        (
            {"url": "https://example.com/", "eventKinds": ["held", "boom"]},
            "EventKinds",
            "InvalidEnum",
        ),
        ({"url": "https://example.com/", "eventKinds": [1, 2]}, "EventKinds", "InvalidType"),
        ({"url": "https://example.com/", "accountId": "nope"}, "AccountId", "NotFound"),
        ({"url": "https://example.com/", "active": "maybe"}, "Active", "InvalidType"),
    ],
)
def test_invalid_requests_are_400_naming_the_field(manager_api, body, field, code):
    response = manager_api.post("/webhooks", body, format="json")

    assert response.status_code == 400
    status = error_status(response)
    assert [(e["fieldName"], e["errorCode"]) for e in status["errors"]] == [(field, code)]
    assert table() == []


def test_a_private_target_is_a_400_when_not_allowed(manager_api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    response = manager_api.post("/webhooks", {"url": "http://10.0.0.7/hook"}, format="json")

    assert response.status_code == 400
    assert "public addresses only" in error_status(response)["message"]
    assert table() == []


def test_the_predefined_routes_serve_the_webhook_operations(manager, manager_api):
    created = manager_api.post(
        "/json/reply/CreateWebhook", {"url": "https://example.com/p"}, format="json"
    )
    assert created.status_code == 200
    webhook_id = json.loads(created.content)["id"]

    assert manager_api.get("/api/CreateWebhook?url=https://example.com/x").status_code == 405
    listed = manager_api.get("/api/ListWebhooks")
    assert [w["id"] for w in json.loads(listed.content)["webhooks"]] == [webhook_id]
    deleted = manager_api.post("/api/DeleteWebhook", {"webhookId": webhook_id}, format="json")
    assert deleted.status_code == 200
    assert table() == []


def test_an_unknown_webhook_route_is_a_servicestack_404(manager_api):
    response = manager_api.get("/webhooks/abc/deliveries")
    assert response.status_code == 404
    assert error_status(response)["errorCode"] == "NotFound"


def test_openapi_lists_the_webhook_operations(client, db):
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]["/webhooks"]) == {"get", "post"}
    assert spec["paths"]["/webhooks/{webhookId}"]["delete"]["operationId"] == "DeleteWebhook"
    schema = spec["components"]["schemas"]["WebhookInfo"]["properties"]
    assert schema["eventKinds"] == {"type": "array", "items": {"type": "string"}}
    body = spec["paths"]["/webhooks"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["properties"]) == {"accountId", "url", "eventKinds", "active"}


def test_list_webhooks_costs_two_queries_however_many(
    manager, manager_api, django_assert_num_queries
):
    for n in range(5):
        subscribe(manager, f"https://example.com/{n}")

    # 1. the Basic-auth user, 2. the webhooks of the user's accounts with their account
    with django_assert_num_queries(2):
        response = manager_api.get("/webhooks")

    assert len(json.loads(response.content)["webhooks"]) == 5


def test_a_retried_create_with_its_idempotency_key_makes_one_webhook(manager_api):
    """A client that lost the answer (and so the secret) retries with the same key: it gets
    the same answer, secret included, and there is still one subscription."""
    request = {"url": "https://example.com/hook"}
    first = manager_api.post("/webhooks", request, format="json", HTTP_IDEMPOTENCY_KEY="mk-1")

    retry = manager_api.post("/webhooks", request, format="json", HTTP_IDEMPOTENCY_KEY="mk-1")

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert WebhookSubscription.objects.count() == 1
