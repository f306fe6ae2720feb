"""The ASGI application (`portal.asgi:application`), served by uvicorn (`portal.serve`).

Django answers HTTP; the ASGI lifespan messages, which Django does not handle, are answered
here, once per server process. At startup, the server's SIGINT and SIGTERM handlers (uvicorn
installs them before it starts the application) are extended so that, as soon as the server
is told to stop, the open event streams (`/live/events`) end themselves: otherwise each would
keep its response open through the server's graceful-shutdown period and then be cancelled,
with an error and a traceback. At shutdown, the process's LISTEN thread is stopped.
"""

import asyncio
import gc
import os
import signal
import threading

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler, with the middleware chain run synchronously, as under WSGI: a
    request takes one hop from the event loop to its thread, runs every middleware and its view
    there, and comes back. Django's own handler runs the chain in async mode, so a sync view
    (every view here but the event streams) costs hops back and forth between the loop and the
    thread around it (several milliseconds a request, measured). Async views, the event streams,
    still run on the event loop (Django calls them through async_to_sync from the chain)."""

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


django.setup(set_prefix=False)
django_application = SyncChainASGIHandler()

from sessions_app import events  # noqa: E402 - once the apps are loaded


async def application(scope, receive, send) -> None:
    """Django's handler for HTTP, the process's start and stop for the lifespan messages."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    else:
        await django_application(scope, receive, send)


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _close_streams_on_exit_signals(asyncio.get_running_loop())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await asyncio.to_thread(events.stop_listener)
            await send({"type": "lifespan.shutdown.complete"})
            return


def _close_streams_on_exit_signals(loop: asyncio.AbstractEventLoop) -> None:
    """Have SIGINT and SIGTERM also close this process's event streams, then do what the
    server's own handler does (it stays in charge of shutting down). Only the main thread may
    set handlers; a signal that has no Python handler is left as it is."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        server_handler = signal.getsignal(sig)
        if not callable(server_handler):
            continue

        def handler(signum, frame, server_handler=server_handler):
            # A signal handler interrupts the loop's thread anywhere: the streams are closed
            # from the loop, in order, not from here.
            if not loop.is_closed():
                loop.call_soon_threadsafe(events.close_streams)
            server_handler(signum, frame)

        signal.signal(sig, handler)


# Everything loaded so far (Django, the apps, the URL map) lives as long as the process: move it
# out of the collector's reach so that full collections triggered by a large response only scan
# the request's own objects.
gc.freeze()
