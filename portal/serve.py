"""Serve the app with uvicorn: `python -m portal.serve [--simulate-traffic]`.

Honours PORT (default 8000), HOST (default 127.0.0.1) and WEB_CONCURRENCY (worker processes,
default 1). A thread retries provider reports that arrived before their call was known
(`manage.py process_inbox` does the same on its own). With --simulate-traffic, demo calls are
generated inside the server process, so the single-process SQLite demo shows live traffic
without a cross-process event channel.
"""

import argparse
import os
import threading

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--simulate-traffic", action="store_true")
    parser.add_argument("--rate", type=float, default=30.0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    stop = threading.Event()
    import django

    django.setup()
    from sessions_app.services import process_inbox_forever

    threading.Thread(target=process_inbox_forever, args=(stop,), daemon=True).start()
    if args.simulate_traffic:
        from sessions_app.simulation import run

        threading.Thread(
            target=run, kwargs={"rate": args.rate, "seed": None, "stop": stop}, daemon=True
        ).start()
    try:
        uvicorn.run(
            "portal.asgi:application",
            host=os.environ.get("HOST", "127.0.0.1"),
            port=int(os.environ.get("PORT", "8000")),
            workers=int(os.environ.get("WEB_CONCURRENCY", "1")),
            proxy_headers=True,
            lifespan="off",  # Django has no lifespan handler
            timeout_graceful_shutdown=3,
            log_level=os.environ.get("LOG_LEVEL", "info").lower(),
        )
    finally:
        stop.set()


if __name__ == "__main__":
    main()
