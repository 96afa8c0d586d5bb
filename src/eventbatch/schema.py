"""Schemas: what a user declares, and the compiled plan the core runs on.

A :class:`Schema` is a list of :class:`Field` objects plus the policy for
unknown fields.  It converts to and from a ``pyarrow.Schema`` and a small JSON
document (the format ``--schema`` takes on the command line)::

    {"unknown_fields": "extra",
     "fields": [
        {"name": "event_id", "type": "string", "nullable": false},
        {"name": "client_ts", "type": "timestamp[ms, tz=UTC]"},
        {"name": "payload", "type": {"type": "struct", "fields": [
            {"name": "ms_played", "type": "int64"}]}},
        {"name": "tags", "type": {"type": "list", "item": "string"}},
        {"name": "context", "type": "json"}]}
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field as dc_field
from typing import Any, Iterable, Sequence

import pyarrow as pa

from .errors import SchemaError

__all__ = ["DataType", "Field", "Schema", "UNKNOWN_POLICIES", "EXTRA_COLUMN"]

UNKNOWN_POLICIES = ("ignore", "error", "extra")
EXTRA_COLUMN = "_extra"

# Kind codes shared with the core (ext/eb_core.h, enum eb_kind).  Never renumber.
KIND_CODES = {
    "bool": 1, "int8": 2, "int16": 3, "int32": 4, "int64": 5,
    "uint8": 6, "uint16": 7, "uint32": 8, "uint64": 9,
    "float32": 10, "float64": 11, "string": 12, "binary": 13,
    "timestamp": 14, "date32": 15, "struct": 16, "list": 17, "json": 18,
}
PRIMITIVE_KINDS = tuple(k for k in KIND_CODES if k not in ("timestamp", "struct", "list"))
TIME_UNITS = ("s", "ms", "us", "ns")
INT_KINDS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_KINDS = ("float32", "float64")

_ARROW_PRIMITIVES = {
    "bool": pa.bool_(), "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(),
    "int64": pa.int64(), "uint8": pa.uint8(), "uint16": pa.uint16(),
    "uint32": pa.uint32(), "uint64": pa.uint64(), "float32": pa.float32(),
    "float64": pa.float64(), "string": pa.string(), "binary": pa.binary(),
    "date32": pa.date32(), "json": pa.string(),
}
_TS_RE = re.compile(r"^timestamp\[(s|ms|us|ns)(?:,\s*tz=([^\]]+))?\]$")


@dataclass(frozen=True)
class DataType:
    """A column type.  Build with the class methods or :meth:`parse`.

    >>> DataType.parse("timestamp[ms, tz=UTC]")
    DataType('timestamp[ms, tz=UTC]')
    >>> DataType.list_("int32").to_arrow()
    ListType(list<item: int32>)
    """

    kind: str
    unit: str | None = None
    tz: str | None = None
    fields: tuple["Field", ...] = ()
    item: "DataType | None" = None
    item_nullable: bool = True

    # -- constructors -------------------------------------------------------
    @classmethod
    def primitive(cls, kind: str) -> "DataType":
        if kind not in PRIMITIVE_KINDS:
            raise SchemaError(f"expected one of {', '.join(PRIMITIVE_KINDS)}, got `{_cut(kind)}`")
        return cls(kind)

    @classmethod
    def timestamp(cls, unit: str = "ms", tz: str | None = None) -> "DataType":
        if unit not in TIME_UNITS:
            raise SchemaError(f"expected a time unit s, ms, us or ns, got `{_cut(unit)}`")
        if tz is not None:
            if not isinstance(tz, str):
                raise SchemaError(f"expected a time zone string, got `{_cut(repr(tz))}`")
            _check_tz(tz)
        return cls("timestamp", unit=unit, tz=tz)

    @classmethod
    def struct(cls, fields: Iterable["Field"]) -> "DataType":
        fields = tuple(fields)
        _check_names([f.name for f in fields], "struct")
        return cls("struct", fields=fields)

    @classmethod
    def list_(cls, item: "DataType | str", item_nullable: bool = True) -> "DataType":
        return cls("list", item=DataType.parse(item), item_nullable=item_nullable)

    @classmethod
    def parse(cls, spec: Any) -> "DataType":
        """A type from its JSON form: ``"int64"``, ``"timestamp[ms, tz=UTC]"``,
        ``{"type": "struct", "fields": [...]}`` or ``{"type": "list", "item": ...}``."""
        if isinstance(spec, DataType):
            return spec
        if isinstance(spec, str):
            m = _TS_RE.match(spec.strip())
            if m:
                return cls.timestamp(m.group(1), m.group(2).strip() if m.group(2) else None)
            if spec == "timestamp":
                return cls.timestamp("ms")
            return cls.primitive(spec)
        if isinstance(spec, dict):
            kind = spec.get("type")
            if kind == "struct":
                if not isinstance(spec.get("fields"), list):
                    raise SchemaError("expected a `fields` list in a struct type")
                return cls.struct(Field.from_dict(f) for f in spec["fields"])
            if kind == "list":
                if "item" not in spec:
                    raise SchemaError("expected an `item` type in a list type")
                return cls.list_(cls.parse(spec["item"]), bool(spec.get("item_nullable", True)))
            if kind == "timestamp":
                return cls.timestamp(spec.get("unit", "ms"), spec.get("tz"))
            if isinstance(kind, str):
                return cls.primitive(kind)
        raise SchemaError(f"expected a type name or a type object, got `{_cut(repr(spec))}`")

    # -- conversions ---------------------------------------------------------
    def to_json(self) -> Any:
        if self.kind == "timestamp":
            return f"timestamp[{self.unit}, tz={self.tz}]" if self.tz else f"timestamp[{self.unit}]"
        if self.kind == "struct":
            return {"type": "struct", "fields": [f.to_dict() for f in self.fields]}
        if self.kind == "list":
            d: dict[str, Any] = {"type": "list", "item": self.item.to_json()}
            if not self.item_nullable:
                d["item_nullable"] = False
            return d
        return self.kind

    def to_arrow(self) -> pa.DataType:
        if self.kind in _ARROW_PRIMITIVES:
            return _ARROW_PRIMITIVES[self.kind]
        if self.kind == "timestamp":
            return pa.timestamp(self.unit, tz=self.tz)
        if self.kind == "struct":
            return pa.struct([f.to_arrow() for f in self.fields])
        if self.kind == "list":
            return pa.list_(Field("item", self.item, self.item_nullable).to_arrow())
        raise AssertionError(self.kind)

    @classmethod
    def from_arrow(cls, t: pa.DataType) -> "DataType":
        for kind, at in _ARROW_PRIMITIVES.items():
            if kind != "json" and t == at:
                return cls(kind)
        if pa.types.is_timestamp(t):
            return cls.timestamp(t.unit, t.tz)
        if pa.types.is_struct(t):
            return cls.struct(Field.from_arrow(t.field(i)) for i in range(t.num_fields))
        if pa.types.is_list(t):
            vf = t.value_field
            return cls.list_(Field.from_arrow(vf).type, vf.nullable)
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return cls("string")
        if isinstance(t, pa.ExtensionType) and getattr(t, "extension_name", "") == "arrow.json":
            return cls("json")
        raise SchemaError(f"expected a supported Arrow type, got `{t}` (supported: "
                          "bool, (u)int8-64, float32/64, string, binary, timestamp, "
                          "date32, struct, list)")

    def __str__(self) -> str:
        return _render_type(self, 0)

    def __repr__(self) -> str:
        return f"DataType({self.to_json()!r})" if not isinstance(self.to_json(), dict) else \
            f"DataType.parse({json.dumps(self.to_json())})"


@dataclass(frozen=True)
class Field:
    """A named column.  ``nullable=False`` rejects events where it is absent or null."""

    name: str
    type: DataType
    nullable: bool = True
    metadata: dict = dc_field(default_factory=dict, compare=False, hash=False)

    def __init__(self, name: str, type: "DataType | str | dict", nullable: bool = True,
                 metadata: dict | None = None) -> None:
        if not isinstance(name, str):
            raise SchemaError(f"expected a field name of type `str`, got `{type_name(name)}`")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "type", DataType.parse(type))
        object.__setattr__(self, "nullable", bool(nullable))
        object.__setattr__(self, "metadata", dict(metadata or {}))

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "type": self.type.to_json()}
        if not self.nullable:
            d["nullable"] = False
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "Field":
        if not isinstance(d, dict) or "name" not in d or "type" not in d:
            raise SchemaError(f"expected a field object with `name` and `type`, got `{_cut(repr(d))}`")
        unknown = set(d) - {"name", "type", "nullable"}
        if unknown:
            raise SchemaError(f"unknown keys {sorted(unknown)} in field `{_cut(str(d['name']))}`")
        return cls(d["name"], d["type"], d.get("nullable", True))

    def to_arrow(self) -> pa.Field:
        md = {b"eventbatch.type": b"json"} if self.type.kind == "json" else None
        return pa.field(self.name, self.type.to_arrow(), nullable=self.nullable, metadata=md)

    @classmethod
    def from_arrow(cls, f: pa.Field) -> "Field":
        md = f.metadata or {}
        if md.get(b"eventbatch.type") == b"json" and pa.types.is_string(f.type):
            return cls(f.name, DataType("json"), f.nullable)
        return cls(f.name, DataType.from_arrow(f.type), f.nullable)


class Schema:
    """The declared shape of events.

    Parameters
    ----------
    fields : sequence of Field
    unknown_fields : {"ignore", "error", "extra"}
        What to do with a field the schema does not name.  ``"extra"`` keeps
        them as compact JSON in a ``_extra`` string column.

    Examples
    --------
    >>> import pyarrow as pa, eventbatch as eb
    >>> s = eb.Schema.from_arrow(pa.schema([pa.field("id", pa.string(), nullable=False),
    ...                                    ("n", pa.int64())]), unknown_fields="extra")
    >>> print(s)
    id: string not null
    n: int64
    (unknown fields: extra -> _extra)
    >>> s.to_arrow().names
    ['id', 'n', '_extra']
    """

    def __init__(self, fields: Sequence[Field], unknown_fields: str = "ignore") -> None:
        fields = tuple(fields)
        for f in fields:
            if not isinstance(f, Field):
                raise SchemaError(f"expected `Field`, got `{type_name(f)}`")
        if unknown_fields not in UNKNOWN_POLICIES:
            raise SchemaError(f"expected unknown_fields in {UNKNOWN_POLICIES}, got `{_cut(str(unknown_fields))}`")
        _check_names([f.name for f in fields], "schema")
        if not fields:
            raise SchemaError("expected at least one field, got an empty schema")
        if unknown_fields == "extra" and any(f.name == EXTRA_COLUMN for f in fields):
            raise SchemaError(f"field name `{EXTRA_COLUMN}` is reserved under unknown_fields='extra'")
        self.fields = fields
        self.unknown_fields = unknown_fields

    # -- constructors -------------------------------------------------------
    @classmethod
    def from_arrow(cls, schema: pa.Schema, unknown_fields: str = "ignore") -> "Schema":
        if not isinstance(schema, pa.Schema):
            raise SchemaError(f"expected `pyarrow.Schema`, got `{type_name(schema)}`")
        md = schema.metadata or {}
        names = schema.names
        if unknown_fields == "extra" and names and names[-1] == EXTRA_COLUMN:
            schema = schema.remove(len(names) - 1)
        return cls([Field.from_arrow(f) for f in schema], unknown_fields)

    @classmethod
    def from_json(cls, text: "str | bytes | dict") -> "Schema":
        if isinstance(text, dict):
            doc = text
        else:
            try:
                doc = json.loads(text)
            except ValueError as e:
                raise SchemaError(f"expected a JSON schema document: {e}") from e
        if isinstance(doc, list):
            doc = {"fields": doc}
        if not isinstance(doc, dict) or not isinstance(doc.get("fields"), list):
            raise SchemaError("expected a JSON object with a `fields` list")
        unknown = set(doc) - {"fields", "unknown_fields", "version"}
        if unknown:
            raise SchemaError(f"unknown keys {sorted(unknown)} in schema document")
        return cls([Field.from_dict(f) for f in doc["fields"]],
                   doc.get("unknown_fields", "ignore"))

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "Schema":
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as e:
            raise SchemaError(f"cannot read schema file `{path}`: {e.strerror}") from e
        return cls.from_json(data)

    @classmethod
    def infer(cls, sample: Any, unknown_fields: str = "ignore") -> "Schema":
        """Infer a schema from a sample of dicts, NDJSON bytes or a path.

        Types widen across the whole sample: int and float give float64,
        null and T give a nullable T, objects give a struct of the union of
        their keys, and values of incompatible types give ``json``.

        >>> import eventbatch as eb
        >>> print(eb.Schema.infer([{"a": 1, "b": "x"}, {"a": 2.5, "c": [1, 2]}]))
        a: float64
        b: string
        c: list<int64>
        """
        from ._infer import infer_schema
        return infer_schema(sample, unknown_fields)

    # -- output ---------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"version": 1, "unknown_fields": self.unknown_fields,
                "fields": [f.to_dict() for f in self.fields]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, path: "str | os.PathLike") -> None:
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(self.to_json() + "\n")
        os.replace(tmp, path)

    def to_arrow(self) -> pa.Schema:
        """The schema of the record batches the encoder produces."""
        fields = [f.to_arrow() for f in self.fields]
        if self.unknown_fields == "extra":
            fields.append(pa.field(EXTRA_COLUMN, pa.string()))
        return pa.schema(fields)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.fields == other.fields and \
            self.unknown_fields == other.unknown_fields

    def __hash__(self) -> int:
        return hash((self.fields, self.unknown_fields))

    def __str__(self) -> str:
        lines = [_render_field(f, 0) for f in self.fields]
        if self.unknown_fields == "extra":
            lines.append(f"(unknown fields: extra -> {EXTRA_COLUMN})")
        elif self.unknown_fields == "error":
            lines.append("(unknown fields: error)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Schema.from_json({self.to_json(indent=None)!r})"

    # -- compilation ----------------------------------------------------------
    def compile(self) -> list[tuple]:
        """Flatten to the node list the core builds from (pre-order).

        Each node is ``(kind_code, nullable, unit_index, has_tz, child_ids,
        child_names_utf8, arrow_type, path)``.  Node 0 is the root struct.
        """
        nodes: list[tuple] = []

        def visit(t: DataType, nullable: bool, path: str) -> int:
            idx = len(nodes)
            nodes.append(None)  # type: ignore[arg-type]
            child_ids: list[int] = []
            names: list[bytes] = []
            if t.kind == "struct":
                for f in t.fields:
                    child_ids.append(visit(f.type, f.nullable, f"{path}.{f.name}"))
                    names.append(f.name.encode("utf-8"))
            elif t.kind == "list":
                child_ids.append(visit(t.item, t.item_nullable, f"{path}[]"))
            unit = TIME_UNITS.index(t.unit) if t.kind == "timestamp" else 0
            nodes[idx] = (KIND_CODES[t.kind], nullable, unit, t.tz is not None,
                          tuple(child_ids), tuple(names), t, path)
            return idx

        visit(DataType.struct(self.fields), False, "$")
        return nodes


def type_name(obj: Any) -> str:
    return type(obj).__name__


@functools.lru_cache(maxsize=64)
def _check_tz(tz: str) -> None:
    """Arrow takes any string as a type's time zone and fails only when a
    value is shown (a partition name): check it when the type is made."""
    try:
        pa.array([0], pa.timestamp("s", tz=tz)).cast(pa.string())
    except (pa.ArrowException, ValueError) as e:
        raise SchemaError(f"expected a time zone name (UTC, Europe/Paris) or offset (+05:30), "
                          f"got `{_cut(tz)}`") from e


def _cut(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def _check_names(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise SchemaError(f"duplicate field name `{_cut(n)}` in {where}")
        seen.add(n)


def _render_type(t: DataType, indent: int) -> str:
    if t.kind == "struct":
        inner = "\n".join(_render_field(f, indent + 1) for f in t.fields)
        return "struct<\n" + inner + "\n" + "  " * indent + ">"
    if t.kind == "list":
        return f"list<{_render_type(t.item, indent)}{'' if t.item_nullable else ' not null'}>"
    j = t.to_json()
    return j if isinstance(j, str) else json.dumps(j)


def _render_field(f: Field, indent: int) -> str:
    return "  " * indent + f"{f.name}: {_render_type(f.type, indent)}" + ("" if f.nullable else " not null")
