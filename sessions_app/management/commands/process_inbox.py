"""`manage.py process_inbox`: retry provider reports that are due."""

import threading

from django.core.management.base import BaseCommand

from sessions_app import services


class Command(BaseCommand):
    """Apply the provider reports due for a retry, once or every `--interval` seconds."""

    help = (
        "Apply provider reports that are due for a retry (reports about calls that were not "
        "known yet when they arrived); with --forever, keep doing it every --interval seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--forever", action="store_true")
        parser.add_argument("--interval", type=float, default=2.0)

    def handle(self, *args, forever, interval, **options):
        if not forever:
            handled = services.inbox_process()
            self.stdout.write(f"{handled} report(s) handled")
            return
        stop = threading.Event()
        try:
            services.process_inbox_forever(stop, interval)
        except KeyboardInterrupt:
            stop.set()
