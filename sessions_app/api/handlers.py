"""The handlers of the session and sign-in operations: each reads its request DTO's values,
calls one service or selector, and answers one DTO. Which routes, verbs and roles lead here is
declared once, in the operations registry (`operations.py`)."""

from django.http.response import HttpResponseBase
from django.utils.cache import get_conditional_response
from django.utils.http import parse_etags
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from sessions_app import documents, selectors, services, signin
from sessions_app.clientaddress import client_address
from sessions_app.dates import parse_start_date
from sessions_app.errors import PreconditionFailed, ValidationFailed
from sessions_app.models import HoldReason, Via
from sessions_app.wire import contracts, dto
from sessions_app.wire.jsonfmt import Encoded, parse_json

from .authentication import end_api_session, start_api_session
from .errors import error_wire_response
from .listing import list_sessions_arguments
from .wire import WireResponse


def _actor(request: Request) -> services.Actor:
    return services.Actor(user=request.user, via=Via.API)


def _session_id(values: dict) -> str:
    session_id = values.get("SessionId")
    if not session_id:
        raise ValidationFailed.for_field("SessionId", "NotEmpty", "'SessionId' must not be empty.")
    return session_id


def _answers_json(request: Request) -> bool:
    """Whether the answer is the stored document as it is: JSON (or JSONP) as ServiceStack
    writes it by default. A `?jsconfig=` answer is written afresh from the document's values."""
    return request.accepted_renderer.format in {"json", "jsonp"} and not (
        request.query_params.get("jsconfig")
    )


def _session_response(request: Request, session_id: str, *, changed: bool = False) -> Response:
    """The session's `SessionInfo` with its `ETag`, from its stored document; `changed`: the
    handler has just changed it."""
    json, etag = documents.session_document_for(
        user=request.user, session_id=session_id, changed=changed
    )
    return WireResponse(contracts.SESSION_INFO, _values(request, json), headers={"ETag": etag})


def _values(request: Request, json: str | bytes):
    """A JSON document as the response's values: as it is for JSON, read back into values for
    the other formats (the same values it was rendered from)."""
    return Encoded(json) if _answers_json(request) else parse_json(contracts.SESSION_INFO, json)


def _session_write(request: Request, values: dict, action, **arguments) -> Response:
    """Run a session's write `action` as the API's user (with the request's `If-Match`), then
    answer the session's `SessionInfo` as it now stands."""
    session_id = _session_id(values)
    action(actor=_actor(request), session_id=session_id, if_match=_if_match(request), **arguments)
    return _session_response(request, session_id, changed=True)


def _if_match(request: Request) -> list[str] | None:
    """The `ETag`s a write's `If-Match` accepts ("*": any), or None without the header."""
    header = request.headers.get("If-Match")
    return None if header is None else parse_etags(header)


def hold_session(request: Request, values: dict) -> Response:
    """`HoldSession`: hold the session's call (or a member's), answer its `SessionInfo`."""
    return _session_write(
        request,
        values,
        services.session_hold,
        call_sid=values.get("CallSid") or None,
        reason=values.get("Reason") or HoldReason.NONE,
    )


def patch_session(request: Request, values: dict) -> Response:
    """`PatchSession`: change what is given, answer the `SessionInfo`."""
    return _session_write(
        request,
        values,
        services.session_patch,
        console_data=values.get("ConsoleData", services.UNSET),
        call_state=values.get("CallState"),
        hold_reason=values.get("HoldReason"),
        queue_state=values.get("QueueState"),
    )


def add_conference_member(request: Request, values: dict) -> Response:
    """`AddConferenceMember`: dial a destination into the conference, answer the
    `SessionInfo`."""
    return _session_write(
        request,
        values,
        services.conference_member_add,
        destination=values.get("Destination"),
        from_number=values.get("FromNumber") or None,
        call_sid=values.get("CallSid") or None,
    )


def get_active_sessions(request: Request, values: dict) -> Response:
    """`AppGetActiveSessions`: the user's active sessions, narrowed as asked, from their stored
    documents (in XML and CSV, the values read back from them)."""
    filters = {
        "user": request.user,
        "account_id": values.get("AccountId") or None,
        "customer_id": values.get("CustomerId") or None,
        "start_date": parse_start_date(values.get("StartDate")),
    }
    found = documents.session_documents_active_for(**filters)
    return WireResponse(
        contracts.APP_GET_ACTIVE_SESSIONS_RESULT,
        dto.active_sessions_result(_values(request, json) for json in found),
    )


def list_sessions(request: Request, values: dict) -> Response:
    """`ListSessions`: one page of the user's sessions, ended ones included, narrowed, sorted
    and paged as asked (`listing.py` reads the request)."""
    page = selectors.session_page_for(user=request.user, **list_sessions_arguments(values))
    return WireResponse(
        contracts.LIST_RESPONSE_OF_SESSION_INFO,
        dto.list_response(
            page.records,
            total_count=page.total_count,
            total_pages=page.total_pages,
            has_more_pages=page.has_more_pages,
        ),
    )


def get_session(request: Request, values: dict) -> HttpResponseBase:
    """`GetSession`: one session of the user's, ended or not. With `If-None-Match` naming its
    current `ETag`, a 304 with no body, decided before the `SessionInfo` is built."""
    session_id = _session_id(values)
    if not ({"If-None-Match", "If-Match"} & request.headers.keys()):
        return _session_response(request, session_id)
    etag = selectors.session_etag_for(user=request.user, session_id=session_id)
    conditional = get_conditional_response(request._request, etag=etag)
    if conditional is not None and conditional.status_code == 412:  # an unmatched `If-Match`
        raise PreconditionFailed(etag)
    if conditional is not None:  # 304 Not Modified
        conditional["ETag"] = etag
        return conditional
    return _session_response(request, session_id)


def end_session(request: Request, values: dict) -> Response:
    """`EndSession`: end the session, or hang up one member with `CallSid`."""
    return _session_write(
        request,
        values,
        services.session_end,
        call_sid=values.get("CallSid") or None,
    )


def update_conference_member(request: Request, values: dict) -> Response:
    """`UpdateConferenceMember`: hold/resume and mute/unmute one member, answer the
    `SessionInfo`."""
    return _session_write(
        request,
        values,
        services.conference_member_update,
        call_sid=values.get("CallSid"),
        hold=values.get("Hold"),
        muted=values.get("Muted"),
    )


def remove_conference_member(request: Request, values: dict) -> Response:
    """`RemoveConferenceMember`: take one member out of the conference, answer the
    `SessionInfo`."""
    return _session_write(
        request,
        values,
        services.conference_member_remove,
        call_sid=values.get("CallSid"),
    )


def redirect_session(request: Request, values: dict) -> Response:
    """`RedirectSession`: blind-transfer the call (the session ends), answer the
    `SessionInfo`."""
    return _session_write(
        request,
        values,
        services.session_redirect,
        destination=values.get("Destination"),
        caller_id=values.get("CallerId") or None,
    )


def monitor_session(request: Request, values: dict) -> Response:
    """`MonitorSession`: start, switch or (Leave) stop monitoring, answer the `SessionInfo`."""
    return _session_write(
        request,
        values,
        services.session_monitor,
        mode=values.get("Mode") or None,
        destination=values.get("Destination") or None,
        leave=bool(values.get("Leave")),
    )


def _auth_response(request: Request, user, session_id: str | None = None) -> Response:
    accounts = list(selectors.accounts_visible_to(user).values_list("id", "name"))
    return WireResponse(
        contracts.AUTHENTICATE_RESPONSE,
        {
            "UserId": user.id,
            "SessionId": session_id,
            "UserName": user.get_username(),
            "DisplayName": user.get_full_name() or user.get_username(),
            "Roles": user.evo_roles,
            "Permissions": [],
            "AccountIds": [account_id for account_id, _ in accounts],
            "AccountNames": [name for _, name in accounts],
        },
    )


def authenticate_credentials(request: Request, values: dict) -> Response:
    """`POST /auth/credentials`: check the password and start an `ss-id` cookie session; a
    username locked out from the client's address is refused first (429, `sessions_app.signin`)."""
    provider = (values.get("provider") or "credentials").lower()
    if provider == "logout":
        return logout(request, values)
    if request.method in SAFE_METHODS:  # never sign in by GET: passwords in URLs end up in logs
        if not request.user.is_authenticated:
            return error_wire_response(401, "Unauthorized", "Not Authenticated")
        return _auth_response(request, request.user)
    if provider != "credentials":
        raise ValidationFailed.for_field(
            "provider", "NotSupported", f"No auth provider '{provider}'."
        )
    username, address = values.get("UserName") or "", client_address(request)
    signin.refuse_if_locked_out(username=username, address=address, via=Via.API)
    user = signin.authenticate_or_count(
        request._request,
        username=username,
        password=values.get("Password") or "",
        address=address,
        via=Via.API,
    )
    if user is None:
        return error_wire_response(401, "Unauthorized", "Invalid UserName or Password")
    response = _auth_response(request, user)
    token = start_api_session(
        response, user, remember_me=bool(values.get("RememberMe")), request=request
    )
    response.data.values["SessionId"] = token
    # A new session token: never cached, never compressed (portal.middleware).
    response["Cache-Control"] = "no-store"
    return response


def logout(request: Request, values: dict) -> Response:
    """`POST /auth/logout`: end the `ss-id` session."""
    response = Response(status=204)
    end_api_session(request, response)
    return response
