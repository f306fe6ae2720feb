"""Writes to the customer tree."""

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr

from sessions_app.errors import ValidationFailed
from sessions_app.models import Customer


def customer_move(*, customer_id: str, parent_id: str | None) -> Customer:
    """Move a customer (with all its sub-customers) under `parent_id`, or to the top.

    Every path in the subtree is rewritten in one UPDATE, in the same transaction, so the
    tree is never seen half-moved. A customer cannot move under itself, one of its own
    sub-customers, or a customer of another account. No provider is involved, so the move may
    join a caller's transaction (the admin's save).
    """
    with transaction.atomic():
        # Lock the whole account's tree: two moves in one tree must not interleave.
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        list(Customer.objects.select_for_update().filter(account_id=customer.account_id))
        parent = None
        if parent_id:
            parent = Customer.objects.filter(pk=parent_id).first()
            if parent is None or parent.account_id != customer.account_id:
                raise ValidationFailed.for_field(
                    "Parent", "NotFound", "The new parent is not a customer of the same account."
                )
            if parent.path.startswith(customer.path):
                raise ValidationFailed.for_field(
                    "Parent",
                    "Cycle",
                    "A customer cannot move under itself or its own sub-customers.",
                )
        old_prefix = customer.path
        new_prefix = f"{parent.path if parent else '/'}{customer.id}/"
        if new_prefix != old_prefix:
            Customer.objects.filter(pk=customer.pk).update(parent=parent)
            Customer.objects.filter(path__startswith=old_prefix).update(
                path=Concat(Value(new_prefix), Substr("path", len(old_prefix) + 1))
            )
        customer.refresh_from_db()
    return customer
