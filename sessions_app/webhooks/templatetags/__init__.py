"""Template helpers of the webhooks app."""
