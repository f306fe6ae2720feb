"""`manage.py simulate_traffic`: demo calls against any database."""

import threading

from django.core.management.base import BaseCommand

from sessions_app.simulation import run


class Command(BaseCommand):
    """Generate demo traffic (`sessions_app.simulation`) until stopped, or for `--steps`."""

    help = "Keep the demo alive: calls arrive, are answered, held, conferenced and end."

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=float, default=30.0, help="events per minute")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--steps", type=int, default=None, help="stop after N events")

    def handle(self, *args, rate, seed, steps, **options):
        self.stdout.write(f"Simulating traffic at {rate:g} events/minute; Ctrl-C stops.")
        try:
            run(rate=rate, seed=seed, stop=threading.Event(), max_steps=steps)
        except KeyboardInterrupt:
            pass
