"""Serve the app with uvicorn: `python -m portal.serve [--simulate-traffic]`.

Honours PORT (default 8000), HOST (default 127.0.0.1) and WEB_CONCURRENCY (worker processes,
default 1). A thread retries provider reports that arrived before their call was known
(`manage.py process_inbox` does the same on its own), and another, every
RECONCILE_INTERVAL_SECONDS (0: never), ends the sessions whose calls ended at the provider
while their report was lost (`manage.py reconcile_sessions` makes one pass). With
--simulate-traffic, demo calls are generated inside the server process, so the single-process
SQLite demo shows live traffic without a cross-process event channel. With
WEBHOOK_DELIVERY_IN_SERVER (the demo), a thread delivers webhooks (production runs
`manage.py deliver_webhooks` instead).

SIGINT (Ctrl-C) and SIGTERM stop it cleanly: open event streams end themselves as soon as the
signal arrives (`portal.asgi`), so uvicorn has nothing to cancel, then the threads stop.
"""

import argparse
import os
import signal
import threading

import uvicorn


def main() -> None:
    """Serve until SIGINT or SIGTERM, then stop the threads and return."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--simulate-traffic", action="store_true")
    parser.add_argument("--rate", type=float, default=30.0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    stop = threading.Event()
    import django

    django.setup()
    from django.conf import settings  # read (and checked) by the settings, not here

    from sessions_app.services import process_inbox_forever

    threads = [
        threading.Thread(
            target=process_inbox_forever, args=(stop,), name="inbox-retry", daemon=True
        )
    ]
    # Reconciliation: sessions whose calls ended at the provider unreported are ended.
    if settings.RECONCILE_INTERVAL_SECONDS > 0:
        from sessions_app.services import reconcile_forever

        threads.append(
            threading.Thread(
                target=reconcile_forever,
                args=(stop, settings.RECONCILE_INTERVAL_SECONDS),
                name="reconcile",
                daemon=True,
            )
        )
    # Webhooks: the delivery worker in this process when asked (the demo:
    # `make run`); production runs `manage.py deliver_webhooks` beside the server instead.
    if settings.WEBHOOK_DELIVERY_IN_SERVER:
        from sessions_app.webhooks.delivery import deliver_forever

        threads.append(
            threading.Thread(
                target=deliver_forever, args=(stop,), name="webhook-delivery", daemon=True
            )
        )
    if args.simulate_traffic:
        from sessions_app.simulation import run

        threads.append(
            threading.Thread(
                target=run,
                kwargs={"rate": args.rate, "seed": None, "stop": stop},
                name="simulated-traffic",
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    # While it serves, uvicorn handles SIGINT and SIGTERM itself; once it has shut down, it
    # raises the signal again for the handler it found. As KeyboardInterrupt, which uvicorn.run
    # absorbs, SIGTERM then ends the process as Ctrl-C does: through the `finally` below,
    # which stops the threads, rather than killing it with them still running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        uvicorn.run(
            "portal.asgi:application",
            host=settings.SERVE_HOST,
            port=settings.SERVE_PORT,
            workers=settings.SERVE_WORKERS,
            proxy_headers=True,
            lifespan="on",  # portal.asgi answers it: each process's start and stop
            timeout_graceful_shutdown=3,
            log_level=settings.LOG_LEVEL.lower(),
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


if __name__ == "__main__":
    main()
