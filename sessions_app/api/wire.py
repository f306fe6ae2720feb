"""DRF glue for the wire format: a response that carries a contract and its values."""

from dataclasses import dataclass

from rest_framework.response import Response

from sessions_app.wire.contracts import Contract


@dataclass(frozen=True)
class WireData:
    """A response's contract and its values, for the renderers."""

    contract: Contract
    values: dict


class WireResponse(Response):
    """A DRF response carrying one contract's values, rendered in the negotiated format."""

    def __init__(self, contract: Contract, values: dict, **kwargs):
        super().__init__(WireData(contract, values), **kwargs)
