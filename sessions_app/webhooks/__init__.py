"""Signed webhooks: per-account subscriptions that receive every session event, signed by the
Standard Webhooks scheme, retried on failure and recorded attempt by attempt (issue 10)."""
