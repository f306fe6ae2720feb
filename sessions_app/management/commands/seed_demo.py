"""`manage.py seed_demo`: deterministic demo data."""

import random
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from sessions_app import services
from sessions_app.models import (
    Account,
    CallSession,
    Channel,
    Customer,
    Direction,
    Endpoint,
    HoldReason,
    QueueState,
    Role,
    User,
)
from sessions_app.telephony.simulated import new_sid

ACCOUNT_NAMES = ["Acme Telecom", "Globex Support", "Initech Sales", "Umbrella Care", "Hooli Desk"]
CUSTOMER_TREE = {
    "Enterprise": ["North Region", "South Region"],
    "Small Business": ["Retail", "Hospitality"],
}
FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Radia", "Tim"]
LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie"]
DEMO_PASSWORD = "demo-password"
SYSTEM = services.SYSTEM


def _phone(rng: random.Random) -> str:
    return f"+1{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(1000, 9999)}"


class Command(BaseCommand):
    """Accounts, customer trees, endpoints, users and sessions; the same for the same
    `--seed`, and safe to run twice."""

    help = "Create deterministic demo data: accounts, customer trees, endpoints, users, sessions."

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=3)
        parser.add_argument("--sessions-per-account", type=int, default=8)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing if any account exists already"
        )

    def handle(self, *args, accounts, sessions_per_account, seed, if_empty, **options):
        if if_empty and Account.objects.exists():
            self.stdout.write("Demo data already present; not seeding (sign in as before).")
            return
        credentials = [self._user("admin", Role.SYSTEM_ADMINISTRATOR, [])]
        for index in range(accounts):
            name = ACCOUNT_NAMES[index] if index < len(ACCOUNT_NAMES) else f"Account {index + 1}"
            account, _ = Account.objects.get_or_create(name=name)
            slug = name.split()[0].lower()
            credentials.append(self._user(f"{slug}-manager", Role.MANAGER, [account]))
            credentials.append(self._user(f"{slug}-agent", Role.USER, [account]))
            customers = self._customers(account)
            # One generator per account and purpose: a rerun draws the same numbers whatever
            # already exists, so the data is the same for the same --seed.
            endpoints = self._endpoints(account, random.Random(f"{seed}:{name}:endpoints"))
            if not CallSession.objects.filter(account=account).exists():
                rng = random.Random(f"{seed}:{name}:sessions")
                for _ in range(sessions_per_account):
                    self._session(account, customers, endpoints, rng)
        self.stdout.write("Demo users (username / password):")
        for username, role in credentials:
            self.stdout.write(f"  {username:<20} {DEMO_PASSWORD}   {role}")

    def _user(self, username: str, role: str, accounts: list) -> tuple[str, str]:
        user, created = User.objects.get_or_create(username=username, defaults={"role": role})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.is_staff = user.is_superuser = role == Role.SYSTEM_ADMINISTRATOR
            user.save()
            user.accounts.set(accounts)
        return username, role

    def _customers(self, account: Account) -> list[Customer]:
        found = []
        for top_name, children in CUSTOMER_TREE.items():
            top, _ = Customer.objects.get_or_create(account=account, parent=None, name=top_name)
            found.append(top)
            for child_name in children:
                child, _ = Customer.objects.get_or_create(
                    account=account, parent=top, name=child_name
                )
                found.append(child)
        return found

    def _endpoints(self, account: Account, rng: random.Random) -> list[Endpoint]:
        endpoints = list(account.endpoints.all())
        if endpoints:
            return endpoints
        for agent in rng.sample(FIRST, 4):
            endpoints.append(
                Endpoint.objects.create(
                    account=account, name=f"{agent} (agent)", kind=Endpoint.Kind.AGENT
                )
            )
        endpoints.append(
            Endpoint.objects.create(
                account=account,
                name="Main line",
                kind=Endpoint.Kind.NUMBER,
                phone_number=_phone(rng),
            )
        )
        return endpoints

    def _session(self, account, customers, endpoints, rng: random.Random) -> None:
        now = timezone.now()
        started = now - timedelta(seconds=rng.randint(5, 1800))
        direction = rng.choice([Direction.INCOMING, Direction.INCOMING, Direction.OUTGOING])
        channel = rng.choices([Channel.VOICE, Channel.CHAT, Channel.FAX], weights=[8, 1, 1])[0]
        caller = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        endpoint = rng.choice(endpoints)
        session = services.session_start(
            actor=SYSTEM,
            account_id=account.id,
            call_sid=new_sid("CA"),
            customer=rng.choice(customers),
            endpoint=endpoint,
            direction=direction,
            channel=channel,
            from_address=_phone(rng),
            from_name=caller,
            to_address=_phone(rng),
            queue_state=rng.choice([QueueState.NONE, QueueState.QUEUED]),
            when=started,
        )
        fate = rng.choice(["ringing", "connected", "connected", "hold", "conference"])
        if fate == "ringing" or (channel != Channel.VOICE and fate != "connected"):
            return
        services.session_answer(
            actor=SYSTEM,
            session_id=session.id,
            answered_by_name=endpoint.name,
            answered_by_id=endpoint.id,
        )
        if fate == "hold":
            reason = rng.choice([HoldReason.NONE, HoldReason.TRANSFERRING])
            services.session_hold(actor=SYSTEM, session_id=session.id, reason=reason)
            CallSession.objects.filter(pk=session.id).update(
                held_at=now - timedelta(seconds=rng.randint(5, 400))
            )
        elif fate == "conference":
            services.conference_member_add(
                actor=SYSTEM,
                session_id=session.id,
                destination=_phone(rng),
                from_number=_phone(rng),
            )
