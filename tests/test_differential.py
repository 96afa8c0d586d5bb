"""Differential tests: the compiled core against the pure-Python reference
(``eventbatch._reference``) and against independent oracles (pyarrow's JSON
reader, ``pa.RecordBatch.from_pylist``, orjson).

Every test draws a schema and inputs from ``tests/strategies.py``; the
drawn schema, options and inputs are attached with ``note()`` so a failure
prints a reproducer.  Compared (see docs/SEMANTICS.md):

* the accepted batch (``equals`` and value by value), and ``validate(full=True)``
  of the core's batch;
* rejected rows: ``reason``, ``path``, ``line``, ``offset``, ``raw``, ``source``
  (not ``message``, whose wording may differ; the core's message must name the
  path of a schema error and the byte position of a scan error);
* ``stats()``: inputs, accepted, rejected, blank_lines, extra_fields.
"""

from __future__ import annotations

import io
import json

import orjson
import pyarrow as pa
import pyarrow.json as pajson
from hypothesis import given, note

import strategies as S
from eventbatch import Encoder
from eventbatch._reference import ReferenceEncoder, ScanError, parse_json
from eventbatch.schema import DataType

R = S.randoms


def gen_enc_kw(r) -> dict:
    """Encoder options: mostly defaults, sometimes small limits so that
    TOO_DEEP and LINE_TOO_LONG happen."""
    kw = {}
    if r.random() < 0.35:
        kw["max_depth"] = r.randint(1, 6)
    if r.random() < 0.25:
        kw["max_line_bytes"] = r.randint(1, 160)
    return kw


def note_case(schema, kw, **inputs) -> None:
    note(f"schema = Schema.from_json({schema.to_json(indent=None)!r})")
    note(f"encoder options = {kw!r}")
    for k, v in inputs.items():
        note(f"{k} = {v!r}")


def feed_ndjson_whole(block, source):
    return lambda enc: S.feed_ndjson(enc, [block], final=True, source=source)


# =============================================================================
# NDJSON
# =============================================================================

@given(R)
def test_ndjson_block_vs_reference(r):
    schema = S.gen_schema(r)
    kw = gen_enc_kw(r)
    block = S.gen_block(r, schema, S.Cfg())
    source = r.choice([None, None, "file.ndjson", "ünï"])
    note_case(schema, kw, block=block, source=source)
    core, ref = S.run_both(schema, feed_ndjson_whole(block, source), kw)
    S.check_core_outcome(core)
    S.assert_same_outcome(core, ref, "ndjson whole block:")


@given(R)
def test_ndjson_pieces_identical_to_whole(r):
    """The same bytes fed in random pieces, the tail carried over, give
    exactly the whole-block result (messages included) on the core, and
    the reference's whole-block result on the compared fields."""
    schema = S.gen_schema(r)
    kw = gen_enc_kw(r)
    block = S.gen_block(r, schema, S.Cfg())
    pieces = S.gen_splits(r, block)
    note_case(schema, kw, block=block, pieces=pieces)

    flush_after = {i for i in range(len(pieces)) if r.random() < 0.3}
    note(f"flush after pieces {sorted(flush_after)}")
    whole = Encoder(schema, **kw)
    S.feed_ndjson(whole, [block], final=True)
    split = Encoder(schema, **kw)
    limit = kw.get("max_line_bytes", 16 << 20) + 4   # + a BOM and a CR still to be removed
    batches, rejected = [], []

    def flush_some(i):
        if i in flush_after:         # flushing between calls must not disturb the stream
            batches.append(split.flush())
            rejected.extend(split.flush_rejected().to_pylist())

    S.feed_ndjson(split, pieces, final=True, max_tail=limit, after_call=flush_some)
    ref = ReferenceEncoder(schema, **kw)
    S.feed_ndjson(ref, pieces, final=True)

    o_whole, o_split, o_ref = S.outcome(whole), S.outcome(split), S.outcome(ref)
    batches.append(o_split.batch)
    o_split.batch = pa.Table.from_batches(batches).combine_chunks().to_batches()[0] \
        if sum(b.num_rows for b in batches) else o_split.batch
    o_split.rejected = rejected + o_split.rejected
    S.check_core_outcome(o_split)
    S.assert_same_outcome(o_split, o_whole, "core pieces vs core whole:", messages=True)
    S.assert_same_outcome(o_split, o_ref, "core pieces vs reference pieces:")


@given(R)
def test_ndjson_not_final_returns_tail(r):
    """Without final=True the bytes after the last newline come back, and
    nothing of them is consumed (when the line is not over the limit)."""
    schema = S.gen_schema(r)
    block = S.gen_block(r, schema, S.Cfg(), max_lines=4)
    note_case(schema, {}, block=block)
    nl = block.rfind(b"\n")
    expected_tail = block[nl + 1:]
    core, ref = S.encoders(schema)
    assert core.extend_ndjson(block) == expected_tail
    assert ref.extend_ndjson(block) == expected_tail
    S.check_balance(core)
    S.assert_same_outcome(S.outcome(core), S.outcome(ref), "not final:")
    # the same as feeding only the complete lines with final=True
    only = Encoder(schema)
    only.extend_ndjson(block[:nl + 1], final=True)
    core2 = Encoder(schema)
    core2.extend_ndjson(block)
    S.assert_same_outcome(S.outcome(core2), S.outcome(only), "tail vs complete lines:", messages=True)


# =============================================================================
# append_json
# =============================================================================

@given(R)
def test_append_json_vs_reference(r):
    schema = S.gen_schema(r)
    kw = gen_enc_kw(r)
    cfg = S.Cfg()
    docs = []
    for _ in range(r.randint(1, 4)):
        if r.random() < 0.05:
            docs.append(r.choice(S.BLANKS + [b"\n", b" \n\t"]))
            continue
        doc = S.render(S.gen_event(r, schema, cfg), r, p_ws=0.3, p_escape=0.15, newlines=True)
        if r.random() < 0.15:
            doc = S.corrupt(r, doc)
        if r.random() < 0.05:
            doc = S.BOM + doc
        docs.append(doc)
    source = r.choice([None, "doc.json"])
    note_case(schema, kw, docs=docs, source=source)

    def feed(enc):
        for d in docs:
            if source is None:
                enc.append_json(d)
            else:
                enc.append_json(d, source=source) if isinstance(enc, Encoder) else enc.append_json(d)
            S.check_balance(enc)

    core, ref = S.run_both(schema, feed, kw)
    S.check_core_outcome(core)
    if source is not None:
        # the reference has no source argument for append_json; compare the rest
        for row in ref.rejected:
            row["source"] = source
    S.assert_same_outcome(core, ref, "append_json:")


# =============================================================================
# Dicts
# =============================================================================

def _valid_lines(block: bytes, max_depth: int = 128):
    """The lines of a block that are valid JSON objects, as json.loads gives them."""
    out = []
    for raw in block.split(b"\n"):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line.startswith(S.BOM):
            line = line[3:]
        if not line.strip(b" \t\r"):
            continue
        try:
            parse_json(line, 10_000)
        except ScanError:
            continue
        v = json.loads(line)
        if isinstance(v, dict):
            out.append(v)
    return out


@given(R)
def test_dicts_from_json_lines_vs_reference(r):
    schema = S.gen_schema(r)
    kw = {k: v for k, v in gen_enc_kw(r).items() if k == "max_depth"}
    block = S.gen_block(r, schema, S.Cfg(), max_lines=8, p_corrupt=0.0)
    dicts = _valid_lines(block)
    use_append = r.random() < 0.3
    note_case(schema, kw, dicts=dicts, use_append=use_append)

    def feed(enc):
        if use_append:
            for d in dicts:
                enc.append(d)
                S.check_balance(enc)
        else:
            enc.extend(dicts)
            S.check_balance(enc)

    core, ref = S.run_both(schema, feed, kw)
    S.check_core_outcome(core, dict_input=True)
    S.assert_same_outcome(core, ref, "dicts from json.loads:")


@given(R)
def test_dicts_handbuilt_vs_reference(r):
    """Dicts with Python types: datetime (naive/aware), date, bytes,
    bytearray, memoryview, tuples, IntEnum, OrderedDict, NaN/inf, lone
    surrogates, non-str keys, unsupported objects."""
    schema = S.gen_schema(r)
    kw = {k: v for k, v in gen_enc_kw(r).items() if k == "max_depth"}
    items = [S.gen_py_event(r, schema, S.Cfg()) for _ in range(r.randint(0, 6))]
    as_iter = r.random() < 0.2
    note_case(schema, kw, items=items, as_generator=as_iter)

    def feed(enc):
        enc.extend(iter(items) if as_iter else items)
        S.check_balance(enc)
        if items:
            enc.append(items[0])
            S.check_balance(enc)

    core, ref = S.run_both(schema, feed, kw)
    S.check_core_outcome(core, dict_input=True)
    S.assert_same_outcome(core, ref, "hand-built dicts:")


# =============================================================================
# Oracles
# =============================================================================

PYARROW_JSON_KINDS = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                      "uint64", "float64", "string", "date32", "timestamp", "timestamp"]


@given(R)
def test_oracle_pyarrow_read_json(r):
    """Valid NDJSON, types pyarrow's JSON reader supports (no binary, no
    json type; timestamps as strings, dates as integers): read_json with
    the same explicit schema gives the core's batch."""
    schema = S.gen_schema(r, kinds=PYARROW_JSON_KINDS, policies=("ignore",))
    cfg = S.Cfg(dev=0, p_null=0.1, p_missing=0.1, p_unknown=0, p_dup=0, p_not_object=0,
                p_deep=0, clean=True, required_present=True, pyarrow_json=True)
    n = r.randint(1, 6)
    lines = [S.render(S.gen_event(r, schema, cfg), r, p_ws=0.3, p_escape=0.15) for _ in range(n)]
    block = b"\n".join(lines) + b"\n"
    note_case(schema, {}, block=block)
    enc = Encoder(schema)
    enc.extend_ndjson(block, final=True)
    o = S.outcome(enc)
    S.check_core_outcome(o)
    assert o.rejected == [], S.fmt_rejected(o.rejected)
    # pyarrow's reader refuses a `not null` child of an absent struct and drops
    # `not null` from nested fields: give it the schema with every field
    # nullable (the core has already enforced nullability), compare values.
    relaxed = pa.schema([pa.field(f.name, S.nullable_type(f.type)) for f in schema.to_arrow()])
    expected = pajson.read_json(
        io.BytesIO(block),
        parse_options=pajson.ParseOptions(explicit_schema=relaxed, unexpected_field_behavior="ignore"))
    exp_batch = expected.combine_chunks().to_batches()[0]
    assert exp_batch.schema.equals(relaxed), (exp_batch.schema, relaxed)
    core_rows, exp_rows = S.plain_rows(o.batch), S.plain_rows(exp_batch)
    assert core_rows == exp_rows, f"core vs pyarrow.json:\ncore: {core_rows!r}\npyarrow: {exp_rows!r}"


FROM_PYLIST_KINDS = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                     "uint64", "float32", "float64", "string", "binary", "date32",
                     "timestamp", "timestamp"]


def _pylist_friendly(v, t: DataType):
    """True when from_pylist converts v like the contract (bytes only for
    binary, datetime/int for timestamps, date/int for date32)."""
    if v is None:
        return True
    k = t.kind
    if k == "binary":
        return isinstance(v, (bytes, bytearray, memoryview))
    if k == "timestamp":
        return not isinstance(v, str)
    if k == "date32":
        return not isinstance(v, str)
    if k in ("float32", "float64"):
        # from_pylist refuses an int it cannot convert exactly
        return isinstance(v, float) or abs(v) <= 2 ** (24 if k == "float32" else 53)
    if k == "struct":
        return all(_pylist_friendly(v.get(f.name), f.type) for f in t.fields)
    if k == "list":
        return all(_pylist_friendly(x, t.item) for x in v)
    return True


@given(R)
def test_oracle_from_pylist(r):
    schema = S.gen_schema(r, kinds=FROM_PYLIST_KINDS, policies=("ignore",))
    cfg = S.Cfg(dev=0, p_null=0.1, p_missing=0.1, p_unknown=0, p_dup=0, p_not_object=0,
                p_deep=0, clean=True, required_present=True)
    dicts = [S.gen_py_event(r, schema, cfg) for _ in range(r.randint(1, 6))]
    dicts = [d for d in dicts if all(_pylist_friendly(d.get(f.name), f.type) for f in schema.fields)]
    note_case(schema, {}, dicts=dicts)
    enc = Encoder(schema)
    enc.extend(dicts)
    o = S.outcome(enc)
    S.check_core_outcome(o, dict_input=True)
    assert o.rejected == [], S.fmt_rejected(o.rejected)
    expected = pa.RecordBatch.from_pylist(dicts, schema=schema.to_arrow())
    S.assert_batches_equal(o.batch, expected, "core vs from_pylist:")


ORJSON_KINDS = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "float64", "string"]


def _orjson_comparable(t: DataType) -> bool:
    return all(x.kind in ORJSON_KINDS + ["struct", "list"] for x in S.walk_types(t))


def _fill(v, t: DataType):
    """The value a column holds for a json.loads value: missing struct
    fields are null."""
    if v is None:
        return None
    if t.kind == "struct":
        return {f.name: _fill(v.get(f.name), f.type) for f in t.fields}
    if t.kind == "list":
        return [_fill(x, t.item) for x in v]
    if t.kind == "float64":
        return float(v)
    return v


@given(R)
def test_oracle_orjson(r):
    """orjson.loads of each accepted line gives the values of the core's
    batch for string/int/float/bool/struct/list columns."""
    schema = S.gen_schema(r)
    block = S.gen_block(r, schema, S.Cfg(), max_lines=8)
    note_case(schema, {}, block=block)
    enc = Encoder(schema)
    enc.extend_ndjson(block, final=True)
    o = S.outcome(enc)
    rejected_lines = {row["line"] for row in o.rejected}
    accepted = []
    for i, raw in enumerate(block.split(b"\n"), start=1):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line.startswith(S.BOM):
            line = line[3:]
        if not line.strip(b" \t\r") or i in rejected_lines:
            continue
        accepted.append(line)
    assert len(accepted) == o.batch.num_rows, (accepted, o.rejected)
    cols = {f.name: o.batch.column(f.name).to_pylist() for f in schema.fields if _orjson_comparable(f.type)}
    rows = [{k: v[i] for k, v in cols.items()} for i in range(o.batch.num_rows)]
    for line, row in zip(accepted, rows):
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            # orjson refuses some valid JSON (integers beyond 64 bits, numbers
            # overflowing a double): then json.loads is the only oracle
            doc = None
        want_doc = json.loads(line)          # accepted => valid JSON; last duplicate wins
        for f in schema.fields:
            if not _orjson_comparable(f.type):
                continue
            want = _fill(want_doc.get(f.name), f.type)
            # == on purpose: json.loads("-0") is the int 0 while a float column holds -0.0
            assert row[f.name] == want, (f.name, line, row[f.name], want)
            if doc is not None and f.name in doc:
                assert row[f.name] == _fill(doc[f.name], f.type), ("orjson", f.name, line, row[f.name], doc[f.name])
