"""`manage.py reconcile_sessions`: end the sessions whose calls ended at the provider unseen."""

from django.core.management.base import BaseCommand

from sessions_app import services


class Command(BaseCommand):
    """One reconciliation pass (`services.sessions_reconcile`), with what it did."""

    help = (
        "Ask the telephony provider about the calls of every active session; end the sessions "
        "whose calls are gone and take members whose legs are gone off the call, each with an "
        "event (via system)."
    )

    def handle(self, *args, **options):
        result = services.sessions_reconcile()
        self.stdout.write(
            f"{result.checked} session(s) checked, {len(result.ended)} ended, "
            f"{len(result.members_left)} member(s) taken off the call, "
            f"{result.errors} the provider could not tell about"
        )
        for session_id in result.ended:
            self.stdout.write(f"ended {session_id}")
