"""XML in the DataContractSerializer shape ServiceStack emits (see the samples in the spec).

Rules followed here, taken from the samples:
- the root element is named after the DTO, declares `xmlns:i` and its own namespace as default;
- members come base class first, each class's members in its own namespace and order;
- a member in a namespace not yet in scope re-declares the default namespace on itself
  (`<Id xmlns="...Voice.Api">`);
- a list whose items live in a namespace not in scope declares it on the list element with the
  prefix `d{depth}p1` (`<CustomerBreadcrumb xmlns:d2p1="...Customers">`);
- nulls are `<Name i:nil="true" />`; dictionaries are `KeyValueOfstringstring` items with `Key`
  and `Value`, and string lists `string` items, both in the Serialization/Arrays namespace.
"""

import re
from xml.sax.saxutils import escape

from .contracts import BOOL, LIST, NS_ARRAYS, NS_XSI, OBJECT, STRING_MAP, Contract

# Characters XML 1.0 cannot carry at all; replaced rather than producing a broken document.
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(_INVALID_XML_CHARS.sub("\ufffd", str(value)))


class _Scope:
    """The namespaces in scope at one element: the default one and the declared prefixes."""

    def __init__(self, default: str, prefixes: dict[str, str] | None = None):
        self.default = default
        self.prefixes = prefixes or {}

    def qualify(self, ns: str) -> tuple[str, str]:
        """(tag prefix, extra attribute) for an element in `ns`."""
        if ns == self.default:
            return "", ""
        if ns in self.prefixes:
            return f"{self.prefixes[ns]}:", ""
        return "", f' xmlns="{ns}"'

    def with_prefix(self, ns: str, depth: int) -> tuple["_Scope", str]:
        """A child scope where `ns` is usable, and the declaration it took (if any)."""
        if ns == self.default or ns in self.prefixes:
            return self, ""
        prefix = f"d{depth}p1"
        return _Scope(self.default, {**self.prefixes, ns: prefix}), f' xmlns:{prefix}="{ns}"'


def _element(out: list, name: str, ns: str, scope: _Scope, body: str | None, extra: str = ""):
    prefix, decl = scope.qualify(ns)
    tag = prefix + name
    if body is None:
        out.append(f'<{tag}{decl}{extra} i:nil="true" />')
    else:
        out.append(f"<{tag}{decl}{extra}>{body}</{tag}>")


def _members(out: list, contract: Contract, values: dict, scope: _Scope, depth: int):
    for owner, f in contract.xml_order():
        value = values.get(f.name)
        if f.kind == LIST:
            if value is None:
                _element(out, f.name, owner.namespace, scope, None)
                continue
            item_ns = f.item.namespace if f.item is not None else NS_ARRAYS
            inner_scope, decl = scope.with_prefix(item_ns, depth)
            inner: list[str] = []
            for item in value:
                if f.item is None:
                    _element(inner, "string", item_ns, inner_scope, _text(item))
                else:
                    _item(inner, f.item, item, inner_scope, depth + 1)
            _element(out, f.name, owner.namespace, scope, "".join(inner), decl)
        elif f.kind == STRING_MAP:
            if value is None:
                _element(out, f.name, owner.namespace, scope, None)
                continue
            inner_scope, decl = scope.with_prefix(NS_ARRAYS, depth)
            inner = []
            for key, val in value.items():
                pair: list[str] = []
                _element(pair, "Key", NS_ARRAYS, inner_scope, _text(key))
                _element(pair, "Value", NS_ARRAYS, inner_scope, None if val is None else _text(val))
                _element(inner, "KeyValueOfstringstring", NS_ARRAYS, inner_scope, "".join(pair))
            _element(out, f.name, owner.namespace, scope, "".join(inner), decl)
        elif f.kind == OBJECT:
            if value is None:
                _element(out, f.name, owner.namespace, scope, None)
                continue
            inner = []
            _members(inner, f.item, value, scope, depth + 1)
            _element(out, f.name, owner.namespace, scope, "".join(inner))
        else:
            if value is None and f.kind == BOOL:
                value = False
            _element(out, f.name, owner.namespace, scope, None if value is None else _text(value))


def _item(out: list, contract: Contract, values: dict, scope: _Scope, depth: int):
    inner: list[str] = []
    _members(inner, contract, values, scope, depth + 1)
    _element(out, contract.name, contract.namespace, scope, "".join(inner))


def render_xml(contract: Contract, values: dict) -> bytes:
    """A contract's values as DataContract XML, namespaces as in the spec's samples."""
    out: list[str] = []
    _members(out, contract, values, _Scope(contract.namespace), 2)
    root = (
        f'<{contract.name} xmlns:i="{NS_XSI}" xmlns="{contract.namespace}">'
        + "".join(out)
        + f"</{contract.name}>"
    )
    return ('<?xml version="1.0" encoding="utf-8"?>' + root).encode("utf-8")
