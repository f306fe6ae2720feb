"""The XML (DataContract) wire format, compared with the samples of the spec pages: element
names, namespaces and order; nil handling; text values; escaping."""

import re
from xml.etree import ElementTree

import pytest

from sessions_app.models import SessionMember
from sessions_app.wire.contracts import (
    LIST_RESPONSE_OF_SESSION_INFO,
    NS_API,
    NS_ARRAYS,
    NS_SESSIONS,
    NS_XSI,
    SESSION_INFO,
    Contract,
    datacontract_generic_name,
)
from tests.conftest import spec_sample
from tests.factories import CallSessionFactory

NIL = f"{{{NS_XSI}}}nil"


def session_info_sample() -> str:
    return spec_sample("session-info.xml")


def active_sessions_sample() -> str:
    return spec_sample("app-get-active-sessions-result.xml")


def shape(element) -> tuple:
    """(namespace-qualified tag, [shape of each child, in order])."""
    return (element.tag, [shape(child) for child in element])


def start_tags(xml: str) -> list[tuple[str, str]]:
    """Each start tag as written, (prefixed name, its xmlns declarations)."""
    return [
        (name, " ".join(re.findall(r'xmlns(?::\w+)?="[^"]*"', attributes)))
        for name, attributes in re.findall(r"<([\w:]+)([^>]*)>", xml)
        if not name.startswith("?")
    ]


@pytest.fixture
def session_xml(api, complete_session) -> str:
    response = api.get(f"/sessions/{complete_session.id}", HTTP_ACCEPT="application/xml")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def active_sessions_xml(api, complete_session) -> str:
    response = api.get("/portal/active-sessions.xml")
    assert response.status_code == 200
    return response.content.decode()


# --- structure, against the spec's samples ------------------------------------------------------


def test_session_info_has_the_samples_elements_namespaces_and_order(session_xml):
    ours = ElementTree.fromstring(session_xml)
    sample = ElementTree.fromstring(session_info_sample())

    assert shape(ours) == shape(sample)


def test_active_sessions_result_has_the_samples_elements_namespaces_and_order(
    active_sessions_xml,
):
    ours = ElementTree.fromstring(active_sessions_xml)
    sample = ElementTree.fromstring(active_sessions_sample())

    assert shape(ours) == shape(sample)


def test_session_info_declares_namespaces_with_the_samples_prefixes(session_xml):
    assert start_tags(session_xml) == start_tags(session_info_sample())


def test_active_sessions_result_declares_namespaces_with_the_samples_prefixes(
    active_sessions_xml,
):
    assert start_tags(active_sessions_xml) == start_tags(active_sessions_sample())


def test_the_document_starts_with_an_utf8_declaration(session_xml):
    assert session_xml.startswith('<?xml version="1.0" encoding="utf-8"?><SessionInfo ')


def test_a_complete_session_has_no_nil_element(session_xml):
    root = ElementTree.fromstring(session_xml)

    assert [el.tag for el in root.iter() if el.get(NIL)] == []


# --- values -----------------------------------------------------------------------------------


def test_values_are_written_as_text(session_xml, complete_session):
    root = ElementTree.fromstring(session_xml)

    def text(name, ns=NS_SESSIONS):
        return root.find(f"{{{ns}}}{name}").text

    assert text("Id", NS_API) == complete_session.id
    assert text("CallState") == "Hold"
    assert text("HoldReason") == "Transferring"
    assert text("Ended") == "false"
    assert text("WasMissed") == "true"
    assert text("AccountName") == "Acme"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text("DateCreated", NS_API))
    crumb = root.find(f"{{{NS_SESSIONS}}}CustomerBreadcrumb")[0]
    assert [child.text for child in crumb] == [complete_session.customer_id, "Top Customer"]
    member = root.find(f"{{{NS_SESSIONS}}}Members")[0]
    assert member.find(f"{{{NS_SESSIONS}}}Muted").text == "true"
    pair = member.find(f"{{{NS_SESSIONS}}}ApplicationData")[0]
    assert [(child.tag, child.text) for child in pair] == [
        (f"{{{NS_ARRAYS}}}Key", "crm"),
        (f"{{{NS_ARRAYS}}}Value", "42"),
    ]


def nil_members(element) -> set[str]:
    """The namespace-qualified tags of `element`'s children that are nil."""
    nils = {child.tag for child in element if child.get(NIL) == "true"}
    assert all(child.text is None and len(child) == 0 for child in element if child.tag in nils)
    return nils


def test_null_fields_are_nil_elements_in_their_own_namespace(api, session):
    response = api.get(f"/sessions/{session.id}.xml")

    root = ElementTree.fromstring(response.content)
    assert nil_members(root) == {f"{{{NS_API}}}CreatedBy", f"{{{NS_API}}}LastModifiedBy"} | {
        f"{{{NS_SESSIONS}}}{name}"
        for name in (
            "AnsweredById", "AnsweredByName", "CallbackNumber", "ConferenceSid", "ConsoleData",
            "CustomerId", "CustomerName", "DateCompleted", "DisplayName", "EndpointId",
            "EndpointName", "FromPhoneNumber", "HeldByUserId", "HoldQueueName",
            "MostRecentParticipantCallSid", "Outcome", "QueueMemberId", "RingQueueId",
        )
    }  # fmt: skip
    [member] = root.find(f"{{{NS_SESSIONS}}}Members")
    assert nil_members(member) == {f"{{{NS_SESSIONS}}}AvatarUrl", f"{{{NS_SESSIONS}}}EndpointId"}
    nil_created_by = (
        '<CreatedBy xmlns="http://schemas.datacontract.org/2004/07/Voice.Api" i:nil="true" />'
    )
    assert nil_created_by.encode() in response.content


def test_booleans_and_enums_are_never_nil(api, session):
    root = ElementTree.fromstring(api.get(f"/sessions/{session.id}.xml").content)

    for name, value in [
        ("Ended", "false"),
        ("WasMissed", "false"),
        ("DialState", "None"),
        ("QueueState", "None"),
        ("HoldReason", "None"),
        ("Channel", "Voice"),
        ("Direction", "Incoming"),
    ]:
        assert root.find(f"{{{NS_SESSIONS}}}{name}").text == value


def test_empty_lists_are_empty_elements_not_nil(api, account):
    session = CallSessionFactory(account=account, caller=False)

    root = ElementTree.fromstring(api.get(f"/sessions/{session.id}.xml").content)

    for name in ("CustomerBreadcrumb", "Log", "Members"):
        element = root.find(f"{{{NS_SESSIONS}}}{name}")
        assert element.get(NIL) is None and len(element) == 0


def test_an_empty_active_sessions_result_has_an_empty_sessions_element(api, db):
    response = api.get("/portal/active-sessions.xml")

    root = ElementTree.fromstring(response.content)
    [sessions] = root
    assert sessions.tag.endswith("}Sessions") and len(sessions) == 0
    assert sessions.get(NIL) is None


def test_a_null_application_data_value_is_a_nil_value(api, session):
    SessionMember.objects.filter(session=session).update(application_data={"a": "1", "b": None})

    root = ElementTree.fromstring(api.get(f"/sessions/{session.id}.xml").content)

    data = root.find(f"{{{NS_SESSIONS}}}Members")[0].find(f"{{{NS_SESSIONS}}}ApplicationData")
    values = [pair.find(f"{{{NS_ARRAYS}}}Value") for pair in data]
    assert [(v.text, v.get(NIL)) for v in values] == [("1", None), (None, "true")]


# --- text that XML must escape ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["<b>bold</b> & \"quoted\" 'too'", "]]>", "line\nbreak\ttab", "emoji 📞 Ω"]
)
def test_special_characters_round_trip(api, account, text):
    session = CallSessionFactory(account=account, console_data=text)

    response = api.get(f"/sessions/{session.id}.xml")

    root = ElementTree.fromstring(response.content)
    assert root.find(f"{{{NS_SESSIONS}}}ConsoleData").text == text


def test_characters_xml_cannot_carry_are_replaced(api, account):
    session = CallSessionFactory(account=account, console_data="a\x01b\x1fc")

    response = api.get(f"/sessions/{session.id}.xml")

    root = ElementTree.fromstring(response.content)  # still a well-formed document
    assert root.find(f"{{{NS_SESSIONS}}}ConsoleData").text == "a\ufffdb\ufffdc"


# --- generic DTOs' names ----------------------------------------------------------------------


def test_a_generics_name_has_datacontracts_digest_of_its_arguments_namespaces():
    """WCF's well-known name for Dictionary<string, string[]>'s items checks the algorithm
    (`KeyValueOf` two arguments: string in XML Schema's namespace, string[] in Arrays')."""
    string = Contract("string", "http://www.w3.org/2001/XMLSchema", ())
    strings = Contract("ArrayOfstring", NS_ARRAYS, ())

    assert datacontract_generic_name("ArrayOfKeyValue", string, strings) == (
        "ArrayOfKeyValueOfstringArrayOfstringty7Ep6D1"
    )
    assert datacontract_generic_name("ListResponse", SESSION_INFO) == (
        "ListResponseOfSessionInfoBWxtuWQa"
    )
    assert LIST_RESPONSE_OF_SESSION_INFO.name == "ListResponseOfSessionInfoBWxtuWQa"
    assert LIST_RESPONSE_OF_SESSION_INFO.namespace == NS_API
