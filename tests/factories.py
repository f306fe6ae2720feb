"""factory_boy factories for the domain models."""

import factory
from django.utils import timezone

from sessions_app.models import (
    Account,
    CallSession,
    CallState,
    Customer,
    Endpoint,
    EventKind,
    MemberCallState,
    MemberRole,
    Role,
    SessionEvent,
    SessionMember,
    User,
)

PASSWORD = "test-password"


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")


class EndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Endpoint

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Agent {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.USER
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def accounts(self, create, extracted, **kwargs):
        if extracted:
            self.accounts.set(extracted)
        self.save()


class CallSessionFactory(factory.django.DjangoModelFactory):
    """A connected incoming voice call with its caller as the original member."""

    class Meta:
        model = CallSession
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    call_state = CallState.CONNECTED
    # A Disconnected call is an ended session, as `services.session_end` leaves it.
    ended = factory.LazyAttribute(lambda o: o.call_state == CallState.DISCONNECTED)
    date_completed = factory.LazyAttribute(
        lambda o: timezone.now() if o.call_state == CallState.DISCONNECTED else None
    )
    from_address = factory.Sequence(lambda n: f"+1555{n:07d}")
    from_name = "Ada Lovelace"
    to_address = "+15550001000"
    destination = "+15550001000"
    call_sid = factory.Sequence(lambda n: f"CA{n:032x}")
    date_created = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def caller(self, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        # A passive call (e.g. in a flow, no agent) still has its caller connected.
        member_state = {
            CallState.CONNECTED: MemberCallState.CONNECTED,
            CallState.HOLD: MemberCallState.HOLD,
            CallState.PASSIVE: MemberCallState.CONNECTED,
            CallState.RINGING: MemberCallState.RINGING,
        }.get(self.call_state, MemberCallState.NONE)
        SessionMember.objects.create(
            session=self,
            identity=self.from_address,
            display_name=self.from_name,
            role=MemberRole.CALLER,
            call_state=member_state,
            is_original_member=True,
            call_sid=self.call_sid,
        )


class SessionMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionMember

    session = factory.SubFactory(CallSessionFactory)
    identity = factory.Sequence(lambda n: f"+1444{n:07d}")
    role = MemberRole.AGENT
    call_state = MemberCallState.CONNECTED
    call_sid = factory.Sequence(lambda n: f"CB{n:032x}")


class SessionEventFactory(factory.django.DjangoModelFactory):
    """A free-text event: its log message is `message`."""

    class Meta:
        model = SessionEvent
        exclude = ("message",)

    session = factory.SubFactory(CallSessionFactory)
    kind = EventKind.NOTE
    message = factory.Sequence(lambda n: f"log line {n}")
    data = factory.LazyAttribute(lambda o: {"message": o.message})
