"""JSV, ServiceStack's own text format: written for every answer (`.jsv`, `?format=jsv`,
`Accept: text/jsv`, `/jsv/reply/{Operation}`), read for request bodies (`text/jsv`)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessions_app.models import CallState, HoldReason, SessionEvent
from sessions_app.wire import contracts
from sessions_app.wire.jsvfmt import JSVError, jsv_value, parse_jsv, render_jsv
from sessions_app.wire.typeinfo import sample_values
from tests.test_api_metadata import page


def test_a_dto_is_its_members_in_order_nulls_left_out_strings_quoted_only_when_needed():
    values = {"Id": "a1", "Name": 'Acme, "Inc"'}
    assert render_jsv(contracts.CUSTOMER_BREADCRUMB, values) == b'{Id:a1,Name:"Acme, ""Inc"""}'
    assert render_jsv(contracts.CUSTOMER_BREADCRUMB, {"Id": "a1", "Name": None}) == b"{Id:a1}"


def test_the_session_info_sample_reads_back_as_its_values():
    sample = sample_values(contracts.SESSION_INFO)
    parsed = parse_jsv(render_jsv(contracts.SESSION_INFO, sample).decode())
    assert parsed["CallState"] == "Disconnected" and parsed["Ended"] == "false"
    assert parsed["CustomerBreadcrumb"] == [{"Id": "String", "Name": "String"}]
    assert parsed["Members"][0]["ApplicationData"] == {"String": "String"}


@given(st.text(max_size=40))
def test_any_string_survives_a_round_trip(text):
    document = jsv_value({"Name": text}, contracts.CUSTOMER_BREADCRUMB)
    assert parse_jsv(document) == {"Name": text}


@pytest.mark.parametrize("text", ["{Id:", '{Id:"open', "{Id:[a,b}", "{Id:a}x", "{Id a}"])
def test_malformed_jsv_is_refused(text):
    with pytest.raises(JSVError):
        parse_jsv(text)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/sessions/{id}.jsv", {}),
        ("/sessions/{id}?format=jsv", {}),
        ("/sessions/{id}", {"HTTP_ACCEPT": "text/jsv"}),
        ("/jsv/reply/GetSession?sessionId={id}", {}),
    ],
)
def test_every_way_of_asking_for_jsv_gets_it(api, session, path, headers):
    response = api.get(path.format(id=session.id), **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/jsv")
    parsed = parse_jsv(response.content.decode())
    assert parsed["Id"] == session.id and parsed["CallState"] == "Connected"


def test_a_jsv_body_holds_the_call(api, session, user):
    response = api.post(
        f"/sessions/{session.id}/hold.jsv",
        data="{Reason:Transferring}",
        content_type="text/jsv",
    )
    assert response.status_code == 200, response.content
    assert parse_jsv(response.content.decode())["CallState"] == "Hold"
    session.refresh_from_db()
    assert session.call_state == CallState.HOLD and session.hold_reason == HoldReason.TRANSFERRING
    assert SessionEvent.objects.get(session=session).actor_name == user.username


def test_a_malformed_jsv_body_is_a_400_in_jsv_and_changes_nothing(api, session):
    response = api.post(
        f"/sessions/{session.id}/hold.jsv", data="{Reason:", content_type="text/jsv"
    )
    assert response.status_code == 400
    assert parse_jsv(response.content.decode())["ResponseStatus"]["ErrorCode"]
    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED
    assert not SessionEvent.objects.filter(session=session).exists()


def test_the_jsv_metadata_page_sample_reads_back(client, db):
    hold = page(client, "jsv", "HoldSession")
    request = hold.pres[0].partition("\n\n")[2]
    assert parse_jsv(request) == {"CallSid": "String", "SessionId": "String", "Reason": "None"}
    assert "Content-Type: text/jsv" in hold.pres[0]
