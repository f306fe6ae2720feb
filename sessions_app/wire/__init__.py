"""The ServiceStack wire format, as Evo Voice serves it.

`contracts` says what each DTO is (names, kinds, namespaces, order); `dto` turns our models into
plain values under those names; `jsonfmt`, `xmlfmt` and `csvfmt` render any contract; `requests`
reads request DTOs from JSON, XML, CSV, forms and query strings.
"""
