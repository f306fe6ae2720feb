"""Add ServiceStack Reference: `/types/*` as the official tools use them. `@servicestack/cli`
generates TypeScript from the running server (and updates it with the options in its header),
`tsc --strict` compiles it, and the official `@servicestack/client` drives every operation with
it; the generated Python drives them with the official `servicestack` package."""

import importlib.util
import json
import shutil
import subprocess
import sys
import uuid

import httpx
import pytest
from django.conf import global_settings
from django.contrib.auth import base_user
from django.contrib.auth.hashers import make_password

from sessions_app.api.operations import OPERATIONS
from sessions_app.models import CallState, HoldReason, Role, SessionMember
from sessions_app.webhooks.models import WebhookSubscription
from tests.conftest import ROOT, served
from tests.factories import PASSWORD, AccountFactory, CallSessionFactory, UserFactory

NODE = ROOT / "tests" / "node"
BIN = NODE / "node_modules" / ".bin"
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is needed")


def _server_password_hash(raw_password: str) -> str:
    return make_password(raw_password)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    # Invitees never answer on their own: the test sees exactly the events it caused.
    with served(log_name="native-types.log", SIMULATED_ANSWER_DELAY="-1") as url:
        yield url


@pytest.fixture
def world(transactional_db, settings, monkeypatch):
    """A Manager of an account with one connected call (the caller as its member)."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    monkeypatch.setattr(base_user, "make_password", _server_password_hash)
    account = AccountFactory(name="Acme")
    return {
        "account": account,
        "call": CallSessionFactory(account=account),
        "manager": UserFactory(username="mia", role=Role.MANAGER, accounts=[account]),
    }


@pytest.fixture
def workdir():
    """A folder inside tests/node (so that tsc and node find its node_modules), removed after."""
    path = NODE / f".generated-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run(args: list, cwd, timeout: int = 120) -> str:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "SERVICESTACK_TELEMETRY_OPTOUT": "1", "HOME": str(cwd)}
    run = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert run.returncode == 0, f"{args}\n{run.stdout}\n{run.stderr}"
    return run.stdout


# --- the sources ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["typescript", "typescript.d", "python", "csharp"])
def test_each_source_is_plain_text_with_servicestacks_options_header(client, db, language):
    response = client.get(f"/types/{language}")
    text = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Options:" in text.splitlines()[0]
    assert "BaseUrl: http://testserver" in text
    assert "IncludeTypes: " in text and "ExcludeTypes: " in text
    for name in OPERATIONS:
        assert name in text


def test_options_from_the_query_string_are_honoured_and_shown_uncommented(client, db):
    text = client.get(
        "/types/typescript", {"IncludeTypes": "HoldSession.*", "AddDescriptionAsComments": "false"}
    ).content.decode()
    assert "\nIncludeTypes: HoldSession.*\n" in text
    assert "\nAddDescriptionAsComments: false\n" in text
    assert "//ExcludeTypes: " in text  # a default stays commented
    assert "export class HoldSession " in text and "export class SessionInfo " in text
    assert "export class EntityInfo" in text and "export enum SessionHoldReasons" in text
    assert "PatchSession" not in text and "Webhook" not in text
    assert "@description" not in text
    excluded = client.get("/types/typescript", {"ExcludeTypes": "ListWebhooks"}).content.decode()
    assert "ListWebhooks " not in excluded and "export class DeleteWebhook " in excluded


def test_make_properties_optional_false_gives_required_members(client, db):
    text = client.get("/types/typescript", {"MakePropertiesOptional": "False"}).content.decode()
    assert "    public sessionId!: string;" in text
    declarations = client.get(
        "/types/typescript.d", {"MakePropertiesOptional": "False"}
    ).content.decode()
    assert "        sessionId: string;" in declarations


def test_the_request_dtos_carry_return_and_verb_markers(client, db):
    text = client.get("/types/typescript").content.decode()
    assert "export class HoldSession implements IReturn<SessionInfo>, IPost" in text
    assert "export class GetSession implements IReturn<SessionInfo>, IGet" in text
    assert "export class PatchSession implements IReturn<SessionInfo>, IPatch" in text
    assert "export class EndSession implements IReturn<SessionInfo>, IDelete" in text
    assert "public getMethod() { return 'PATCH'; }" in text
    assert '// @Route("/sessions/{sessionId}/hold", "POST")' in text
    python = client.get("/types/python").content.decode()
    assert "class HoldSession(IReturn[SessionInfo], IPost):" in python
    csharp = client.get("/types/csharp").content.decode()
    assert "public partial class HoldSession : IReturn<SessionInfo>, IPost" in csharp
    assert "public virtual SessionCallState? CallState { get; set; }" in csharp


def test_metadata_types_describe_operations_routes_roles_and_types(client, db):
    response = client.get("/types/metadata")
    metadata = response.json()
    assert response.status_code == 200
    assert metadata["config"]["baseUrl"] == "http://testserver"
    operations = {op["request"]["name"]: op for op in metadata["operations"]}
    assert set(operations) == set(OPERATIONS)
    hold = operations["HoldSession"]
    assert hold["routes"] == [{"path": "/sessions/{sessionId}/hold", "verbs": "POST"}]
    assert hold["requiresAuth"] is True and hold["requiredRoles"] == ["User"]
    assert hold["request"]["implements"][0] == {"name": "IReturn`1", "genericArgs": ["SessionInfo"]}
    assert operations["CreateWebhook"]["requiredRoles"] == ["Manager"]
    assert "requiresAuth" not in operations["Authenticate"]
    types = {t["name"]: t for t in metadata["types"]}
    assert types["SessionInfo"]["inherits"] == {"name": "EntityInfo"}
    assert types["SessionCallState"]["enumNames"][0] == "Disconnected"
    members = {p["name"]: p for p in types["SessionInfo"]["properties"]}
    assert members["Members"]["genericArgs"] == ["SessionMemberInfo"]
    assert members["CallSid"]["description"] == "The twilio Call SID of this session"


def test_the_types_index_links_every_language(client, db):
    body = client.get("/types").content.decode()
    for path in ("/types/metadata", "/types/typescript", "/types/python", "/types/csharp"):
        assert f'href="{path}"' in body


def test_an_unknown_language_is_a_404(client, db):
    assert client.get("/types/cobol").status_code == 404


# --- the official tools, for real ----------------------------------------------------------------


def _compile(workdir) -> None:
    shutil.copy(NODE / "typed_client.ts", workdir / "typed_client.ts")
    _run(
        [
            "tsc",
            "--strict",
            "--target",
            "es2022",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "--skipLibCheck",
            "--outDir",
            "out",
            "dtos.ts",
            "typed_client.ts",
        ],
        workdir,
    )


@needs_node
def test_typescript_ref_generates_dtos_that_compile_strictly_and_drive_every_operation(
    server, world, workdir
):
    saved = _run(["typescript-ref", server, "dtos.ts"], workdir)
    assert "Saved to: dtos.ts" in saved
    _compile(workdir)
    call, account = world["call"], world["account"]
    config = {
        "baseUrl": server,
        "userName": "mia",
        "password": PASSWORD,
        "accountId": account.id,
        "sessionId": call.id,
    }
    result = json.loads(_run(["node", "out/typed_client.js", json.dumps(config)], workdir))

    assert result["authenticate"] == {
        "userName": "mia",
        "roles": ["User", "Manager"],
        "hasSessionId": True,
    }
    assert result["activeIds"] == [call.id]
    assert result["get"] == {"id": call.id, "callState": "Connected", "accountName": "Acme"}
    assert result["hold"] == {"callState": "Hold", "holdReason": "Transferring"}
    assert result["patch"] == {"callState": "Connected", "consoleData": "typed"}
    assert result["invite"]["members"] == 2 and result["invite"]["inviteeCallSid"]
    assert result["endMember"] == {"ended": False, "inviteeCallState": "None"}  # hung up
    assert result["createWebhook"]["active"] is True
    assert result["createWebhook"]["secretPrefix"] == "whsec_"
    assert result["listWebhooks"] == [result["createWebhook"]["id"]]
    assert result["deleteWebhook"] == {"id": result["createWebhook"]["id"]}
    assert result["apiClientPatch"] == {"consoleData": "api client"}
    assert result["missing"] == {"succeeded": False, "errorCode": "NotFound"}
    assert result["end"] == {"ended": True, "callState": "Disconnected"}
    assert result["list"] == {"ids": [call.id], "totalCount": 1, "hasMorePages": False}
    # What the database holds afterwards: the calls really happened, in order.
    call.refresh_from_db()
    assert call.ended and call.console_data == "api client"
    kinds = list(call.events.order_by("seq").values_list("kind", flat=True))
    assert kinds == [
        "held",
        "resumed",
        "member_invited",
        "member_left",
        "console_data_changed",
        "ended",
    ]
    assert not WebhookSubscription.objects.exists()
    invitee = SessionMember.objects.get(session=call, call_sid=result["invite"]["inviteeCallSid"])
    assert invitee.identity == "+15557654321"


@needs_node
def test_typescriptd_ref_generates_declarations_that_compile_strictly(server, db, workdir):
    saved = _run(["typescriptd-ref", server], workdir)
    assert "Saved to: dtos.d.ts" in saved
    _run(["tsc", "--strict", "--noEmit", "dtos.d.ts"], workdir)
    assert "declare module dtos" in (workdir / "dtos.d.ts").read_text()


@needs_node
def test_csharp_ref_saves_the_csharp_dtos(server, db, workdir):
    """No .NET on these machines to compile it: the tool accepts it, and it says what a C#
    client needs (routes, IReturn markers, nullable enums)."""
    assert "Saved to: dtos.cs" in _run(["csharp-ref", server], workdir)
    text = (workdir / "dtos.cs").read_text()
    assert "namespace Voice.Api" in text
    assert '[Route("/sessions/{sessionId}", "PATCH")]' in text
    assert "public partial class PatchSession : IReturn<SessionInfo>, IPatch" in text


@needs_node
def test_typescript_ref_updates_a_reference_with_the_options_in_its_header(server, db, workdir):
    _run(["typescript-ref", server, "dtos.ts"], workdir)
    dtos = workdir / "dtos.ts"
    text = dtos.read_text().replace("//IncludeTypes: \n", "IncludeTypes: GetSession.*\n")
    dtos.write_text(text)
    updated = _run(["typescript-ref", "dtos.ts"], workdir)
    assert "Updated: dtos.ts" in updated
    text = dtos.read_text()
    assert "\nIncludeTypes: GetSession.*\n" in text
    assert "export class GetSession " in text and "export class SessionInfo " in text
    assert "HoldSession" not in text and "Webhook" not in text


def test_the_generated_python_drives_the_operations_with_the_servicestack_package(
    server, world, tmp_path, monkeypatch
):
    source = httpx.get(f"{server}/types/python", timeout=10).text
    module_path = tmp_path / "evo_dtos.py"
    module_path.write_text(source)
    spec = importlib.util.spec_from_file_location("evo_dtos", module_path)
    dtos = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "evo_dtos", dtos)
    spec.loader.exec_module(dtos)
    from servicestack import JsonServiceClient, WebServiceException

    client = JsonServiceClient(server)
    client.set_credentials("mia", PASSWORD)
    call = world["call"]

    got = client.send(dtos.GetSession(session_id=call.id))
    assert isinstance(got, dtos.SessionInfo)
    assert got.id == call.id and got.call_state == dtos.SessionCallState.CONNECTED
    assert got.members[0].call_sid == call.call_sid

    held = client.send(
        dtos.HoldSession(session_id=call.id, reason=dtos.SessionHoldReasons.TRANSFERRING)
    )
    assert held.call_state == dtos.SessionCallState.HOLD
    call.refresh_from_db()
    assert call.call_state == CallState.HOLD and call.hold_reason == HoldReason.TRANSFERRING

    patched = client.send(
        dtos.PatchSession(session_id=call.id, call_state=dtos.SessionCallState.CONNECTED)
    )
    assert patched.call_state == dtos.SessionCallState.CONNECTED

    active = client.send(dtos.AppGetActiveSessions(account_id=world["account"].id))
    assert [s.id for s in active.sessions] == [call.id]

    page = client.send(dtos.ListSessions(account_ids=[world["account"].id], count_per_page=5))
    assert isinstance(page, dtos.ListResponse)
    assert [s.id for s in page.items] == [call.id] and page.total_count == 1
    assert isinstance(page.items[0], dtos.SessionInfo)

    with pytest.raises(WebServiceException) as failure:
        client.send(dtos.GetSession(session_id="no-such-session"))
    assert failure.value.status_code == 404
    assert failure.value.response_status.error_code == "NotFound"
    call.refresh_from_db()
    assert call.call_state == CallState.CONNECTED

    signed_in = client.send(
        dtos.Authenticate(provider="credentials", user_name="mia", password=PASSWORD)
    )
    assert signed_in.user_name == "mia" and signed_in.session_id

    invited = client.send(dtos.AddConferenceMember(session_id=call.id, destination="+15557654321"))
    invitee = next(m for m in invited.members if m.identity == "+15557654321")
    assert invitee.call_state == dtos.SessionMemberCallState.RINGING

    webhook = client.send(
        dtos.CreateWebhook(
            account_id=world["account"].id, url="https://192.0.2.10/hooks", event_kinds=["held"]
        )
    )
    assert webhook.secret.startswith("whsec_") and webhook.active is True
    listed = client.send(dtos.ListWebhooks(account_id=world["account"].id))
    assert [w.id for w in listed.webhooks] == [webhook.id]
    client.send(dtos.DeleteWebhook(webhook_id=webhook.id))
    assert not WebhookSubscription.objects.exists()

    ended = client.send(dtos.EndSession(session_id=call.id))
    assert ended.ended is True and ended.call_state == dtos.SessionCallState.DISCONNECTED
    call.refresh_from_db()
    assert call.ended
    assert SessionMember.objects.get(session=call, call_sid=invitee.call_sid).identity == (
        "+15557654321"
    )
