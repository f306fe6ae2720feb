"""ServiceStack Server Events over HTTP: `/event-stream` and its companions `/event-heartbeat`,
`/event-unregister` and `/event-subscribers`, as ServiceStack's `ServerEventsFeature` serves
them, so that its `ServerEventsClient` subscribes unchanged. What is sent and how the streams
are fed lives in `sessions_app.serverevents`; this module authenticates, scopes and streams.

The stream authenticates like the API (Basic, the `ss-id` cookie, the portal's session). The
heartbeat and unregister URLs carry the subscription's unguessable id instead, as ServiceStack's
do: its clients post them without credentials (a browser's `sendBeacon`, Node's fetch)."""

import asyncio
import logging

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from sessions_app import events, serverevents
from sessions_app.errors import NotSupported, SignInLockedOut
from sessions_app.models import Account, EventSubscription, Role
from sessions_app.permissions import account_ids_visible_to, has_role
from sessions_app.serverevents import END, Stream, feed
from sessions_app.services import subscriptions
from sessions_app.wire import contracts
from sessions_app.wire import server_events as wire
from sessions_app.wire.dto import error_response
from sessions_app.wire.jsonfmt import render_json

from .errors import error_wire_response

logger = logging.getLogger(__name__)

ALL_CHANNELS = "*"  # ServiceStack's "unknown channel": every account the user may see
STREAM_METHODS = ("GET", "HEAD", "OPTIONS")


class StreamRefused(Exception):
    """The stream cannot be opened: an HTTP status, a ServiceStack error code and message."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def response(self) -> HttpResponse:
        """The refusal as a ServiceStack error body (JSON: what an SSE client can read)."""
        body = render_json(
            contracts.ERROR_RESPONSE, error_response(error_code=self.code, message=self.message)
        )
        response = HttpResponse(body, status=self.status, content_type="application/json")
        for name, value in self.headers.items():
            response[name] = value
        return response


def _authenticate(request: HttpRequest):
    """The API's authenticators, in the API's order; the user, or StreamRefused (401, 403, or
    429 for a username locked out after failed sign-ins)."""
    drf_request = Request(
        request, authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
    )
    try:
        user = drf_request.user
    except exceptions.AuthenticationFailed as error:
        raise StreamRefused(401, "Unauthorized", str(error.detail), _www_authenticate()) from None
    except SignInLockedOut as error:
        retry_after = {"Retry-After": str(error.retry_after)}
        raise StreamRefused(429, error.code, error.message, retry_after) from None
    if not getattr(user, "is_authenticated", False):
        message = "Authentication credentials were not provided."
        raise StreamRefused(401, "Unauthorized", message, _www_authenticate())
    if not has_role(user, Role.USER):
        raise StreamRefused(403, "Forbidden", "Invalid Role")
    return user


def _www_authenticate() -> dict:
    return {"WWW-Authenticate": 'Basic realm="evovoice"'}


def channel_scope(user, channels: str) -> tuple[str, list[str] | None]:
    """The channels as asked ("*" if none) and the accounts they cover: the user's own (None:
    all, for an administrator on "*"), narrowed to the account ids named. Naming an account
    the user may not see is refused (403), not silently ignored."""
    named = [c.strip() for c in channels.split(",") if c.strip()]
    visible = account_ids_visible_to(user)
    visible = None if visible is None else set(visible)
    if not named or ALL_CHANNELS in named:
        return ALL_CHANNELS, (None if visible is None else sorted(visible))
    if visible is None:  # an administrator: any account that exists
        visible = set(Account.objects.filter(pk__in=named).values_list("id", flat=True))
    refused = [c for c in named if c not in visible]
    if refused:
        raise StreamRefused(
            403,
            "Forbidden",
            f"Channel {refused[0]} is not an account you may see: channels are account ids"
            " (or * for all of yours)",
        )
    named = list(dict.fromkeys(named))
    return ",".join(named), sorted(named)


def _open(request: HttpRequest):
    """Everything the stream needs from the database, in one thread: the user, the scope,
    the resume plan and a new subscription row; the connection is given back afterwards."""
    try:
        user = _authenticate(request)
        channels, account_ids = channel_scope(
            user, request.GET.get("channels") or request.GET.get("channel") or ""
        )
        last = request.headers.get("Last-Event-ID") or request.GET.get("lastEventId")
        plan = serverevents.resume_plan(last)
        if request.method == "HEAD":
            return user, channels, account_ids, plan, None
        subscription = subscriptions.subscription_open(
            user=user, channels=channels, account_ids=account_ids
        )
        return user, channels, account_ids, plan, subscription
    finally:
        connection.close()


def _connect_body(request: HttpRequest, user, subscription: EventSubscription) -> dict:
    """`cmd.onConnect`'s body, as ServiceStack's: the subscription's Meta (strings) plus the
    URLs and timings the client heartbeats and unregisters with."""
    meta = _meta(user, subscription)
    base = request.build_absolute_uri("/")
    interval = int(settings.EVENT_STREAM_HEARTBEAT_SECONDS * 1000)
    idle = int(settings.EVENT_STREAM_IDLE_TIMEOUT_SECONDS * 1000)
    return {
        **meta,
        "id": subscription.id,
        "unRegisterUrl": f"{base}event-unregister?id={subscription.id}",
        "heartbeatUrl": f"{base}event-heartbeat?id={subscription.id}",
        "updateSubscriberUrl": f"{base}event-subscribers/{subscription.id}",
        "heartbeatIntervalMs": str(interval),
        "idleTimeoutMs": str(idle),
    }


def _meta(user, subscription: EventSubscription) -> dict:
    return wire.subscriber_meta(
        user_id=user.id,
        display_name=user.get_full_name() or user.get_username(),
        channels=subscription.channels,
        created_at=subscription.created_at,
    )


def _replay_batch(*, after: int, upto: int, account_ids) -> tuple[list[bytes], int | None]:
    """The frames of the next batch of missed events (after `after`, at most `upto`) and the
    last seq read (None: nothing left). Runs in a worker thread; gives its connection back."""
    try:
        rows = serverevents.event_rows(after=after, upto=upto, account_ids=account_ids)
        if not rows:
            return [], None
        return [f for _, _, f in serverevents.frames_for(rows)], rows[-1]["seq"]
    finally:
        connection.close()


def _snapshot(**kwargs) -> list[bytes]:
    try:
        return serverevents.snapshot_frames(**kwargs)
    finally:
        connection.close()


def _close_subscription(subscription_id: str) -> None:
    try:
        subscriptions.subscription_close(subscription_id=subscription_id)
    except Exception:  # the idle reaper removes it anyway
        logger.exception("could not remove event subscription %s", subscription_id)
    finally:
        connection.close()


@csrf_exempt  # it writes nothing on any method; a POST is a 405, not a CSRF failure
async def event_stream(request: HttpRequest) -> HttpResponse:
    """`/event-stream?channels=`: ServiceStack Server Events of the sessions the user may see.

    Sent: `cmd.onConnect` first; then, for a client resuming (`Last-Event-ID` or
    `?lastEventId=`), every event it missed, in order; else, for one too far behind,
    `cmd.onReset` and a `cmd.ActiveSessions` snapshot; then live `cmd.SessionEvent`s, each with
    its seq as the SSE id. `cmd.onHeartbeat` answers each heartbeat. No database connection is
    held while the stream waits."""
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        response["Allow"] = ", ".join(STREAM_METHODS)
        return response
    if request.method not in STREAM_METHODS:
        refusal = StreamRefused(405, "MethodNotAllowed", f'Method "{request.method}" not allowed.')
        response = refusal.response()
        response["Allow"] = ", ".join(STREAM_METHODS)
        return response
    try:
        user, channels, account_ids, plan, subscription = await sync_to_async(
            _open, thread_sensitive=False
        )(request)
    except StreamRefused as refusal:
        return refusal.response()
    if subscription is None:  # HEAD: what a GET would answer, without opening a stream
        response = HttpResponse(content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        return response
    listening = await sync_to_async(events.ensure_listener, thread_sensitive=False)()
    if not listening:
        await sync_to_async(_close_subscription, thread_sensitive=False)(subscription.id)
        return StreamRefused(503, "ServiceUnavailable", "Live events are unavailable").response()
    loop = asyncio.get_running_loop()
    scope = None if account_ids is None else frozenset(account_ids)
    stream = Stream(
        id=subscription.id,
        account_ids=scope,
        loop=loop,
        queue=asyncio.Queue(),
        heartbeat_body=_meta(user, subscription),
        last_pulse_at=subscription.last_pulse_at,  # a heartbeat is answered, not the connect
    )
    connect = _connect_body(request, user, subscription)
    position = await sync_to_async(_register, thread_sensitive=False)(stream)
    forget = events.on_close(lambda: stream.offer([END]))
    return _stream_response(
        _frames(stream, connect, plan, position, user, account_ids, forget), status=200
    )


def _register(stream: Stream) -> int:
    try:
        return feed.register(stream)
    finally:
        connection.close()


def _stream_response(content, status: int = 200) -> StreamingHttpResponse:
    response = StreamingHttpResponse(content, content_type="text/event-stream", status=status)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must pass each event on at once
    return response


async def _frames(stream: Stream, connect: dict, plan, position: int, user, account_ids, forget):
    """The response body: connect, replay or reset, then live until the stream ends."""
    try:
        # The onConnect id is where the client stands: a fresh client at the feed's position
        # (so even its first reconnect loses nothing), a resuming one at its own last id; none
        # after a reset, whose snapshot carries the position once it has arrived.
        if plan.reset:
            yield b"retry: 2000\n" + wire.frame(wire.ON_CONNECT, connect)
            frames = await sync_to_async(_snapshot, thread_sensitive=False)(
                user=user, account_ids=account_ids, position=position, reason=plan.reason
            )
            yield b"".join(frames)
        elif plan.last_id is None:
            yield b"retry: 2000\n" + wire.frame(wire.ON_CONNECT, connect, event_id=position)
        else:
            yield b"retry: 2000\n" + wire.frame(wire.ON_CONNECT, connect, event_id=plan.last_id)
            after = plan.last_id
            while after < position:
                frames, last = await sync_to_async(_replay_batch, thread_sensitive=False)(
                    after=after, upto=position, account_ids=account_ids
                )
                if last is None:
                    break
                yield b"".join(frames)
                after = last
        keepalive = settings.LIVE_KEEPALIVE_SECONDS
        while True:
            try:
                item = await asyncio.wait_for(stream.queue.get(), timeout=keepalive)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if item is END:
                return
            # Take everything already waiting: one write for a burst.
            chunk = [item]
            while not stream.queue.empty():
                item = stream.queue.get_nowait()
                if item is END:
                    yield b"".join(chunk)
                    return
                chunk.append(item)
            yield b"".join(chunk)
    finally:
        stream.ended = True
        feed.unregister(stream.id)
        forget()
        # Not awaited: a cancelled response (the client went away) must not wait on it.
        asyncio.get_running_loop().run_in_executor(None, _close_subscription, stream.id)


class _SubscriptionView(APIView):
    """A request naming a subscription by its id (`?id=`): no credentials needed, the id is
    the capability; an unknown (or expired) id answers 404, which makes the client reconnect."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def subscription_id(self, request) -> str:
        """The `id` query parameter (where ServiceStack's URLs carry it), or a 400."""
        subscription_id = request.query_params.get("id")
        if not subscription_id:
            raise exceptions.ValidationError({"Id": ["'Id' must not be empty."]})
        return subscription_id

    def not_found(self, subscription_id: str):
        """The ServiceStack 404 for an unknown subscription."""
        return error_wire_response(
            404, "NotFound", f"Subscription '{subscription_id}' does not exist"
        )


class HeartbeatView(_SubscriptionView):
    """`/event-heartbeat?id=`: the subscription lives on; its stream gets `cmd.onHeartbeat`."""

    def post(self, request):
        """Record the pulse and answer it on the stream (here at once, else at the holding
        process's next check)."""
        subscription_id = self.subscription_id(request)
        pulse = subscriptions.subscription_pulse(subscription_id=subscription_id)
        if pulse is None:
            return self.not_found(subscription_id)
        serverevents.heartbeat_local(subscription_id, pulse)
        return HttpResponse(status=200)

    get = post


class UnregisterView(_SubscriptionView):
    """`/event-unregister?id=`: forget the subscription and end its stream."""

    def post(self, request):
        """Delete the row; the stream ends now if it is here, else at its process's next
        check."""
        subscription_id = self.subscription_id(request)
        if not subscriptions.subscription_close(subscription_id=subscription_id):
            return self.not_found(subscription_id)
        serverevents.end_local(subscription_id)
        return HttpResponse(status=200)

    get = delete = post


class SubscribersView(APIView):
    """`/event-subscribers?channel=` (also ServiceStack's `GetEventSubscribers`): who is
    subscribed, as a list of subscriber Meta (strings), limited to what the user may see."""

    def get(self, request, subscription_id: str | None = None):
        """The subscribers on the channel asked (an account id the user may see, or "*"), or
        on every channel."""
        if subscription_id is not None:
            raise exceptions.MethodNotAllowed("GET")
        asked = request.query_params.get("channel") or request.query_params.get("channels")
        channel = None
        if asked:
            try:
                channel, _ = channel_scope(request.user, asked)
            except StreamRefused as refusal:
                raise exceptions.PermissionDenied(refusal.message) from None
            if "," in channel:
                raise exceptions.ValidationError({"Channel": ["Ask for one channel at a time."]})
        visible = account_ids_visible_to(request.user)
        rows = serverevents.subscribers_for(
            account_ids_visible=None if visible is None else list(visible), channel=channel
        )
        return HttpResponse(orjson.dumps(rows), content_type="application/json")

    def post(self, request, subscription_id: str | None = None):
        """`updateSubscriberUrl`: changing an open stream's channels is not supported; the
        client reconnects with the new channels instead (and resumes exactly)."""
        raise NotSupported(
            "Changing the channels of an open stream is not supported: reconnect with the new"
            " channels and your last event id"
        )
