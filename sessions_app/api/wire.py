"""DRF glue for the wire format: a response that carries a contract and its values."""

from dataclasses import dataclass

from rest_framework.response import Response

from sessions_app.wire.contracts import Contract


@dataclass(frozen=True)
class WireData:
    contract: Contract
    values: dict


class WireResponse(Response):
    def __init__(self, contract: Contract, values: dict, **kwargs):
        super().__init__(WireData(contract, values), **kwargs)
