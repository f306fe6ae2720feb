"""ServiceStack's "Add ServiceStack Reference", from the operations registry: `/types/metadata`
(the `MetadataTypes` JSON) and typed DTOs for TypeScript (classes, and `typescript.d`
declarations), Python (dataclasses for the `servicestack` package) and C#.

Each source begins with ServiceStack's `Options:` header. `@servicestack/cli` saves it with the
file ("add") and sends its uncommented options back as the query string ("update"), so every
option listed there is honoured here: `IncludeTypes`/`ExcludeTypes` (names, or `Name.*` for a
type and everything it uses), `AddDescriptionAsComments`, `AddServiceStackTypes`,
`MakePropertiesOptional` (TypeScript), `GlobalNamespace` (C#, `typescript.d`).
"""

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from sessions_app.wire.contracts import BOOL, ENUM, INT, LIST, OBJECT, STRING_MAP, Contract, Field
from sessions_app.wire.enums import WireEnum
from sessions_app.wire.typeinfo import class_name, referenced_types, type_name, type_parameter

from .operations import OPERATIONS, Operation

Kind = Contract | type[WireEnum]
_TRUE = {"true", "1", "yes"}


@dataclass(frozen=True)
class Options:
    """The options of one generated source: the defaults, overridden by the query string."""

    base_url: str
    values: dict[str, str]
    given: frozenset[str]

    def flag(self, name: str) -> bool:
        return self.values[name].strip().lower() in _TRUE

    def names(self, name: str) -> list[str]:
        return [part.strip() for part in self.values[name].split(",") if part.strip()]

    def header(self, comment: str) -> list[str]:
        """`Options:` lines: a default is commented out (`//Name: value`), a given option not,
        so that an update sends back exactly what the user chose."""
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        lines = [
            "Options:",
            f"Date: {now}",
            "Version: 8.0",
            f'Tip: To override a DTO option, remove "{comment}" prefix before updating',
            f"BaseUrl: {self.base_url}",
            "",
        ]
        for name, value in self.values.items():
            prefix = "" if name in self.given else comment
            lines.append(f"{prefix}{name}: {value}")
        return lines


# Each language's options: only those its generator honours.
COMMON = {"AddDescriptionAsComments": "True", "IncludeTypes": "", "ExcludeTypes": ""}
LANGUAGE_OPTIONS = {
    "typescript": {"MakePropertiesOptional": "True", "AddServiceStackTypes": "True", **COMMON},
    "typescript.d": {
        "GlobalNamespace": "dtos",
        "MakePropertiesOptional": "True",
        "AddServiceStackTypes": "True",
        **COMMON,
    },
    "python": dict(COMMON),
    "csharp": {"GlobalNamespace": "Voice.Api", **COMMON},
}


def _options(request: HttpRequest, language: str) -> Options:
    defaults = LANGUAGE_OPTIONS[language]
    by_lower = {name.lower(): name for name in defaults}
    values, given = dict(defaults), set()
    for key, value in request.GET.items():
        name = by_lower.get(key.lower())
        if name is not None:
            values[name] = value
            given.add(name)
    base_url = f"{request.scheme}://{request.get_host()}"
    return Options(base_url, values, frozenset(given))


# --- which types, in which order ----------------------------------------------------------------


def _kind_name(kind: Kind) -> str:
    """The name a type is declared under (a generic's without its arguments)."""
    if not isinstance(kind, Contract):
        return kind.__name__
    return kind.generic[0] if kind.generic else kind.name


def _declared(contract: Contract, parameter_list: str = "<{}>") -> str:
    """The class as declared: `SessionInfo`, `ListResponse<T>` (Python: `ListResponse`)."""
    if contract.generic is None:
        return contract.name
    count = len(contract.generic[1])
    parameters = ["T"] if count == 1 else [f"T{i + 1}" for i in range(count)]
    return contract.generic[0] + parameter_list.format(", ".join(parameters))


def _python_reference(contract: Contract) -> str:
    if contract.generic is None:
        return contract.name
    name, arguments = contract.generic
    return f"{name}[{', '.join(a.name for a in arguments)}]"


def _selected(options: Options) -> tuple[list[Kind], list[Operation]]:
    """Every type the operations use, dependencies before dependants (a base class before its
    subclasses, a member's type before the type holding it), request DTOs last; then narrowed
    by `IncludeTypes` and `ExcludeTypes`."""
    operations = sorted(OPERATIONS.values(), key=lambda op: op.name)
    requests = {op.request for op in operations}
    ordered: list[Kind] = []

    def visit(kind: Kind) -> None:
        if kind in ordered:
            return
        if isinstance(kind, Contract):
            if kind.base is not None:
                visit(kind.base)
            for field in kind.fields:
                dependency = field.enum or field.item
                if dependency is not None:
                    visit(dependency)
        ordered.append(kind)

    for operation in operations:
        visit(operation.response)
    for operation in operations:
        visit(operation.request)
    ordered = [k for k in ordered if k not in requests] + [op.request for op in operations]

    def matches(patterns: list[str]) -> set[str]:
        chosen: set[str] = set()
        for pattern in patterns:
            name = pattern.removesuffix(".*")
            kind = next((k for k in ordered if _kind_name(k) == name), None)
            if kind is None:
                continue
            chosen.add(name)
            if pattern.endswith(".*"):  # the type and everything it uses (and answers)
                roots = [kind]
                roots += [op.response for op in operations if op.request is kind]
                chosen |= {_kind_name(k) for k in referenced_types(*roots)}
        return chosen

    if options.names("IncludeTypes"):
        wanted = matches(options.names("IncludeTypes"))
        ordered = [k for k in ordered if _kind_name(k) in wanted]
    unwanted = matches(options.names("ExcludeTypes"))
    ordered = [k for k in ordered if _kind_name(k) not in unwanted]
    names = {_kind_name(k) for k in ordered}
    return ordered, [op for op in operations if op.name in names]


def _operation_of(contract: Contract) -> Operation | None:
    return next((op for op in OPERATIONS.values() if op.request is contract), None)


# --- TypeScript ---------------------------------------------------------------------------------


def _ts_type(field: Field, contract: Contract) -> str:
    parameter = type_parameter(contract, field)
    if parameter is not None:
        return f"{parameter}[]" if field.kind == LIST else parameter
    if field.kind == BOOL:
        return "boolean"
    if field.kind == INT:
        return "number"
    if field.kind == ENUM:
        return field.enum.__name__
    if field.kind == LIST:
        return f"{field.item.name if field.item else 'string'}[]"
    if field.kind == STRING_MAP:
        return "{ [index: string]: string; }"
    if field.kind == OBJECT:
        return field.item.name
    return "string"


def _ts_comment(text: str, options: Options, indent: str = "") -> list[str]:
    if not text or not options.flag("AddDescriptionAsComments"):
        return []
    return [f"{indent}/** @description {text} */"]


def _typescript(options: Options, declarations: bool = False) -> str:
    kinds, operations = _selected(options)
    # Required members of a class are definitely assigned (`!`): `tsc --strict` accepts them.
    optional = "?" if options.flag("MakePropertiesOptional") else ("" if declarations else "!")
    out = ["/* " + "\n".join(options.header("//")) + "\n*/", ""]
    body: list[str] = []
    if options.flag("AddServiceStackTypes"):
        body += [
            "export interface IReturn<T>\n{\n    createResponse(): T;\n}\n",
            "export interface IReturnVoid\n{\n    createResponse(): void;\n}\n",
        ]
        for verb in sorted({op.verb for op in operations}):
            body.append(f"export interface I{verb.title()}\n{{\n}}\n")
    for kind in kinds:
        if not isinstance(kind, Contract):
            if declarations:
                members = " | ".join(f"'{value}'" for value in kind.values())
                body.append(f"export type {kind.__name__} = {members};\n")
                continue
            lines = [f"export enum {kind.__name__}", "{"]
            lines += [f"    {value} = '{value}'," for value in kind.values()]
            body.append("\n".join(lines + ["}", ""]))
            continue
        body.append(_ts_class(kind, options, optional, declarations))
    text = "\n".join(body)
    if declarations:
        namespace = options.values["GlobalNamespace"] or "dtos"
        indented = "\n".join(("    " + line) if line else "" for line in text.splitlines())
        return "\n".join(out) + f"\ndeclare module {namespace}\n{{\n\n{indented}\n}}\n"
    return "\n".join(out) + "\n" + text


def _ts_class(contract: Contract, options: Options, optional: str, declarations: bool) -> str:
    operation = _operation_of(contract)
    lines: list[str] = []
    if operation is not None:
        lines += _ts_comment(operation.summary, options)
        lines += [f'// @Route("{r.path}", "{",".join(r.verbs)}")' for r in operation.routes]
    parents = [contract.base.name] if contract.base is not None else []
    markers = []
    if operation is not None:
        response = class_name(operation.response)
        markers = [f"IReturn<{response}>", f"I{operation.verb.title()}"]
    if declarations:  # an interface extends them all
        parents, markers = parents + markers, []
    heading = f"export {'interface' if declarations else 'class'} {_declared(contract)}"
    if parents:
        heading += " extends " + ", ".join(parents)
    if markers:
        heading += " implements " + ", ".join(markers)
    lines += [heading, "{"]
    for field in contract.fields:
        lines += _ts_comment(field.description, options, "    ")
        member = f"{field.json_name}{optional}: {_ts_type(field, contract)};"
        lines.append(("    " if declarations else "    public ") + member)
    if not declarations:
        lines.append("")
        if contract.base is not None:
            construct = "super(init); (Object as any).assign(this, init);"
        else:
            construct = "(Object as any).assign(this, init);"
        partial = f"Partial<{_declared(contract)}>"
        lines.append(f"    public constructor(init?: {partial}) {{ {construct} }}")
        if operation is not None:
            lines += [
                f"    public getTypeName() {{ return '{contract.name}'; }}",
                f"    public getMethod() {{ return '{operation.verb}'; }}",
                f"    public createResponse() {{ return new {class_name(operation.response)}(); }}",
            ]
    return "\n".join(lines + ["}", ""])


# --- Python -------------------------------------------------------------------------------------

_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _snake(name: str) -> str:
    return _WORD.sub("_", name).lower()


def _py_type(field: Field, contract: Contract) -> str:
    parameter = type_parameter(contract, field)
    if parameter is not None:
        return f"List[{parameter}]" if field.kind == LIST else parameter
    if field.kind == BOOL:
        return "bool"
    if field.kind == INT:
        return "int"
    if field.kind == ENUM:
        return field.enum.__name__
    if field.kind == LIST:
        return f"List[{field.item.name if field.item else 'str'}]"
    if field.kind == STRING_MAP:
        return "Dict[str, str]"
    if field.kind == OBJECT:
        return field.item.name
    return "str"


def _python(options: Options) -> str:
    kinds, _ = _selected(options)
    out = ['""" ' + "\n".join(options.header("#")) + '\n"""', ""]
    out += [
        "import datetime",
        "import decimal",
        "from marshmallow.fields import *",
        "from servicestack import *",
        "from typing import *",
        "from dataclasses import dataclass, field",
        "from dataclasses_json import dataclass_json, LetterCase, Undefined, config",
        "from enum import Enum, IntEnum",
        "",
        "T = TypeVar('T')",
        "",
    ]
    comments = options.flag("AddDescriptionAsComments")
    for kind in kinds:
        out.append("")
        if not isinstance(kind, Contract):
            out.append(f"class {kind.__name__}(str, Enum):")
            out += [f"    {member.name} = '{member.value}'" for member in kind]
            out.append("")
            continue
        operation = _operation_of(kind)
        if operation is not None:
            out += [f'# @Route("{r.path}", "{",".join(r.verbs)}")' for r in operation.routes]
        out.append("@dataclass_json(letter_case=LetterCase.CAMEL, undefined=Undefined.EXCLUDE)")
        out.append("@dataclass")
        bases = [kind.base.name] if kind.base is not None else []
        if operation is not None:
            response = _python_reference(operation.response)
            bases += [f"IReturn[{response}]", f"I{operation.verb.title()}"]
        if kind.generic is not None:
            bases.append(_declared(kind, "Generic[{}]").removeprefix(kind.generic[0]))
        out.append(f"class {_kind_name(kind)}" + (f"({', '.join(bases)})" if bases else "") + ":")
        if operation is not None and comments and operation.summary:
            out.append(f'    """\n    {operation.summary}\n    """\n')
        for field in kind.fields:
            out += _py_field(field, kind, comments)
        if not kind.fields:
            out.append("    pass")
        out.append("")
    return "\n".join(out) + "\n"


def _py_field(field: Field, contract: Contract, comments: bool) -> list[str]:
    name = _snake(field.name)
    annotation = f"Optional[{_py_type(field, contract)}]"
    if keyword.iskeyword(name) or name in {"field", "config"}:
        # `from` is a keyword: the member is `from_`, still `from` on the wire.
        wire_name = f"config(field_name='{field.json_name}')"
        line = f"    {name}_: {annotation} = field(metadata={wire_name}, default=None)"
    else:
        line = f"    {name}: {annotation} = None"
    lines = [line]
    if comments and field.description:
        lines.append(f'    """\n    {field.description}\n    """\n')
    return lines


# --- C# -----------------------------------------------------------------------------------------


def _csharp(options: Options) -> str:
    kinds, _ = _selected(options)
    namespace = options.values["GlobalNamespace"] or "Voice.Api"
    comments = options.flag("AddDescriptionAsComments")
    out = ["/* " + "\n".join(options.header("//")) + "\n*/", ""]
    out += [
        "using System;",
        "using System.Collections.Generic;",
        "using System.Runtime.Serialization;",
        "using ServiceStack;",
        "using ServiceStack.DataAnnotations;",
        "",
        f"namespace {namespace}",
        "{",
    ]
    for kind in kinds:
        if not isinstance(kind, Contract):
            out.append(f"    public enum {kind.__name__}")
            out.append("    {")
            out += [f"        {value}," for value in kind.values()]
            out += ["    }", ""]
            continue
        operation = _operation_of(kind)
        if operation is not None:
            out += [f'    [Route("{r.path}", "{",".join(r.verbs)}")]' for r in operation.routes]
            if comments and operation.summary:
                out.append(f'    [Api(Description="{_cs_string(operation.summary)}")]')
        heading = f"    public partial class {_declared(kind)}"
        parents = [kind.base.name] if kind.base is not None else []
        if operation is not None:
            response = class_name(operation.response)
            parents += [f"IReturn<{response}>", f"I{operation.verb.title()}"]
        out.append(heading + (" : " + ", ".join(parents) if parents else ""))
        out.append("    {")
        for field in kind.fields:
            if comments and field.description:
                out.append(f'        [ApiMember(Description="{_cs_string(field.description)}")]')
            parameter = type_parameter(kind, field)
            member_type = type_name(field) if parameter is None else f"List<{parameter}>"
            out.append(f"        public virtual {member_type} {field.name} {{ get; set; }}")
        out += ["    }", ""]
    out.append("}")
    return "\n".join(out) + "\n"


def _cs_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


# --- MetadataTypes ------------------------------------------------------------------------------


def _metadata_type(kind: Kind) -> dict:
    if not isinstance(kind, Contract):
        return {
            "name": kind.__name__,
            "namespace": "Voice.Api",
            "isEnum": True,
            "enumNames": kind.values(),
            "enumValues": kind.values(),
        }
    described = {
        "name": _metadata_name(kind),
        "genericArgs": ["T"] if kind.generic else None,
        "namespace": kind.namespace.rsplit("/", 1)[-1],
        "properties": [
            {
                "name": f.name,
                "type": type_name(f).rstrip("?").split("<")[0].replace("List", "List`1"),
                "genericArgs": _generic_args(f),
                "isValueType": f.kind in {BOOL, ENUM, INT} or None,
                "isEnum": f.kind == ENUM or None,
                "description": f.description or None,
            }
            for f in kind.fields
        ],
    }
    if kind.base is not None:
        described["inherits"] = {"name": kind.base.name}
    operation = _operation_of(kind)
    if operation is not None:
        described["implements"] = [
            {"name": "IReturn`1", "genericArgs": [class_name(operation.response)]},
            {"name": f"I{operation.verb.title()}"},
        ]
        described["description"] = operation.summary
    return described


def _metadata_name(contract: Contract) -> str:
    """ServiceStack's name of a generic type: `ListResponse`1`."""
    if contract.generic is None:
        return contract.name
    return f"{contract.generic[0]}`{len(contract.generic[1])}"


def _generic_args(field: Field) -> list[str] | None:
    if field.kind == LIST:
        return [field.item.name if field.item else "String"]
    if field.kind == STRING_MAP:
        return ["String", "String"]
    return None


def _strip_none(value):
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def metadata_types(options: Options) -> dict:
    """ServiceStack's `MetadataTypes`: config, the operations (routes, verbs, auth, roles) and
    every type they use."""
    kinds, operations = _selected(options)
    requests = {op.request for op in operations}
    return _strip_none(
        {
            "config": {"baseUrl": options.base_url, "usePath": "/types/metadata"},
            "namespaces": sorted({"Voice.Api", "ServiceStack"}),
            "operations": [
                {
                    "request": _metadata_type(op.request),
                    "response": _metadata_type(op.response),
                    "actions": sorted({verb for route in op.routes for verb in route.verbs}),
                    "method": op.verb,
                    "returnType": {
                        "name": _metadata_name(op.response),
                        "genericArgs": [a.name for a in op.response.generic[1]]
                        if op.response.generic
                        else None,
                    },
                    "routes": [{"path": r.path, "verbs": ",".join(r.verbs)} for r in op.routes],
                    "requiresAuth": not op.public or None,
                    "requiredRoles": [op.role] if op.role else None,
                    "tags": [op.tag],
                }
                for op in operations
            ],
            "types": [_metadata_type(k) for k in kinds if k not in requests],
        }
    )


# --- views --------------------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[Options], str]] = {
    "typescript": _typescript,
    "typescript.d": lambda options: _typescript(options, declarations=True),
    "python": _python,
    "csharp": _csharp,
}


@require_safe
def types_index(request: HttpRequest) -> HttpResponse:
    """`/types`: the links to every language's DTOs, and how to add them to a project."""
    return render(request, "metadata/types.html", {"languages": list(GENERATORS)})


@require_safe
def types_metadata(request: HttpRequest) -> JsonResponse:
    """`/types/metadata`: the `MetadataTypes` JSON."""
    return JsonResponse(metadata_types(_options(request, "python")))


@require_safe
def types_source(request: HttpRequest, language: str) -> HttpResponse:
    """`/types/{language}`: the DTOs as source, `text/plain` as ServiceStack serves them."""
    generator = GENERATORS.get(language)
    if generator is None:
        raise Http404(f"No native types for '{language}'")
    source = generator(_options(request, language))
    return HttpResponse(source, content_type="text/plain; charset=utf-8")
