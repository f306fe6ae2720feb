"""What the contracts are as .NET types: the type names ServiceStack's metadata pages and native
types show (`string`, `bool`, `SessionCallState?`, `List<SessionInfo>`,
`Dictionary<string, string>`), the order in which a page lists the types an operation uses, and
the placeholder values of its sample requests and responses. Plain Python, like the contracts.
"""

from .contracts import BOOL, ENUM, INT, LIST, OBJECT, STRING_MAP, Contract, Field
from .enums import WireEnum


def class_name(contract: Contract) -> str:
    """The contract's C# class: its name, or a closed generic's (`ListResponse<SessionInfo>`)."""
    if contract.generic is None:
        return contract.name
    name, arguments = contract.generic
    return f"{name}<{', '.join(a.name for a in arguments)}>"


def type_parameter(contract: Contract, field: Field) -> str | None:
    """`T` where a generic contract's field holds its type argument (`Items: List<T>`)."""
    if contract.generic is not None and field.item in contract.generic[1]:
        arguments = contract.generic[1]
        return "T" if len(arguments) == 1 else f"T{arguments.index(field.item) + 1}"
    return None


def type_name(field: Field) -> str:
    """The field's C# type as ServiceStack's metadata pages print it."""
    if field.kind == BOOL:
        return "bool" + ("?" if field.nullable else "")
    if field.kind == INT:
        return "int"
    if field.kind == ENUM:
        return field.enum.__name__ + ("?" if field.nullable else "")
    if field.kind == LIST:
        return f"List<{field.item.name if field.item else 'string'}>"
    if field.kind == STRING_MAP:
        return "Dictionary<string, string>"
    if field.kind == OBJECT:
        return field.item.name
    return "string"


def referenced_types(*contracts: Contract) -> list[Contract | type[WireEnum]]:
    """Each contract, then the types it uses, depth first in field order (a base class right
    after its subclass), each once: the order of ServiceStack's metadata pages."""
    seen: list[Contract | type[WireEnum]] = []

    def visit(kind: Contract | type[WireEnum]) -> None:
        if kind in seen:
            return
        seen.append(kind)
        if isinstance(kind, Contract):
            if kind.base is not None:
                visit(kind.base)
            for field in kind.fields:
                if field.enum is not None:
                    visit(field.enum)
                elif field.item is not None:
                    visit(field.item)

    for contract in contracts:
        visit(contract)
    return seen


def sample_values(contract: Contract) -> dict:
    """Placeholder values of every member, as ServiceStack's sample requests and responses show
    them: `String`, `false`, an enum's first name, one element in each list."""
    values: dict = {}
    for field in contract.all_fields:
        if field.kind == BOOL:
            values[field.name] = False
        elif field.kind == INT:
            values[field.name] = 0
        elif field.kind == ENUM:
            values[field.name] = field.enum.values()[0]
        elif field.kind == LIST:
            values[field.name] = [sample_values(field.item) if field.item else "String"]
        elif field.kind == STRING_MAP:
            values[field.name] = {"String": "String"}
        elif field.kind == OBJECT:
            values[field.name] = sample_values(field.item)
        else:
            values[field.name] = "String"
    return values
