"""The wire contracts of the webhook operations, declared as `sessions_app.wire.contracts`
declares the Evo Voice ones (so JSON, XML, CSV and the OpenAPI description all follow from
them). Plain data: no Django."""

from sessions_app.wire.contracts import BOOL, DATE, LIST, Contract, Field

NS_WEBHOOKS = "http://schemas.datacontract.org/2004/07/Voice.Api.Webhooks"

WEBHOOK_INFO = Contract(
    "WebhookInfo",
    NS_WEBHOOKS,
    (
        Field("Id"),
        Field("AccountId"),
        Field("AccountName"),
        Field("Url"),
        Field("EventKinds", LIST),
        Field("Active", BOOL),
        # Only in CreateWebhook's answer: the one time the secret is shown.
        Field("Secret"),
        Field("SecretHint"),
        Field("CreatedBy"),
        Field("DateCreated", DATE),
        Field("DisabledReason"),
        Field("DateDisabled", DATE),
    ),
)

LIST_WEBHOOKS_RESPONSE = Contract(
    "ListWebhooksResponse", NS_WEBHOOKS, (Field("Webhooks", LIST, WEBHOOK_INFO),)
)

# Request DTOs.
CREATE_WEBHOOK = Contract(
    "CreateWebhook",
    NS_WEBHOOKS,
    (Field("AccountId"), Field("Url"), Field("EventKinds", LIST), Field("Active", BOOL)),
)
LIST_WEBHOOKS = Contract("ListWebhooks", NS_WEBHOOKS, (Field("AccountId"),))
DELETE_WEBHOOK = Contract("DeleteWebhook", NS_WEBHOOKS, (Field("WebhookId"),))
