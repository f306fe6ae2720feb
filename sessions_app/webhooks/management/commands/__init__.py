"""`deliver_webhooks`."""
