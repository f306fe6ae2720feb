"""`manage.py add_user`: create or update a user with a role and accounts."""

from django.core.management.base import BaseCommand, CommandError

from sessions_app.models import Account, Role, User


class Command(BaseCommand):
    """Create or update a user (password, role, accounts); an unknown role is refused."""

    help = "Create or update a user with a role and the accounts they belong to."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument(
            "--role",
            required=True,
            choices=[r.value for r in Role if r.value],
            help="Evo Voice role",
        )
        parser.add_argument(
            "--account",
            action="append",
            default=[],
            help="account name (repeatable; created if new)",
        )

    def handle(self, *args, username, password, role, account, **options):
        if not username.strip():
            raise CommandError("USERNAME must not be empty")
        user, created = User.objects.get_or_create(username=username)
        user.role = role
        user.set_password(password)
        user.is_staff = user.is_superuser = role == Role.SYSTEM_ADMINISTRATOR
        user.save()
        if account:
            accounts = [Account.objects.get_or_create(name=name)[0] for name in account]
            user.accounts.set(accounts)
        names = ", ".join(user.accounts.values_list("name", flat=True)) or "none"
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} {username} ({role}); accounts: {names}")
