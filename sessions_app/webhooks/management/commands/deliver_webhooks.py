"""`manage.py deliver_webhooks`: the webhook delivery worker, on its own."""

import threading

from django.core.management.base import BaseCommand

from sessions_app.webhooks import delivery


class Command(BaseCommand):
    """Send due webhook deliveries until stopped, or one pass with --once. Several may run
    at once (on one machine or many): they share the work and never send one delivery
    twice at the same time."""

    help = (
        "Deliver session events to the webhook subscriptions, retrying failures on the "
        "Standard Webhooks schedule. Runs until interrupted; --once makes one pass."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between polls (default: "
            "WEBHOOK_POLL_SECONDS); session events wake it sooner",
        )

    def handle(self, *args, once, interval, **options):
        if once:
            attempts = delivery.deliver_once()
            self.stdout.write(f"{attempts} attempt(s) made")
            return
        stop = threading.Event()
        try:
            delivery.deliver_forever(stop, interval)
        except KeyboardInterrupt:
            stop.set()
