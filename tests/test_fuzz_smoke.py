"""Replay the NDJSON fuzzer's seeds and saved crashes through the Python API.

Every file in fuzz/corpus and fuzz/crashes is a 6-byte header followed by a
payload (the format is documented at the top of fuzz/fuzz_ndjson.c).  Each is
run under each unknown-field policy with the header's max_depth, max_line
and split points, on a schema that covers every column kind (the harness's
schema), and checked:

* counters balance: inputs == accepted + rejected, and match the rows;
* the accepted batch and the rejected batch pass ``validate(full=True)``
  (offsets, UTF-8 of string columns, including ``message`` and ``path``);
* ``_extra`` values are JSON objects with one member per key at every level
  that mirrors the schema (dict semantics, docs/SEMANTICS.md);
* feeding the payload in pieces (carrying the tail) gives the same batches
  and rejected rows as feeding it at once.

The files in fuzz/crashes reproduce bugs found by fuzzing (see
fuzz/crashes/README.md); their cases fail until those bugs are fixed.  Two of
them cannot be seen from Python: ubsan-null-buffer-zero-length needs a
sanitizer build, and gen-wrap-duplicate-key needs 2^32 objects (the C harness
sets the generation directly); their cases pass here.
test_rejected_rows_do_not_grow_encoder_memory is the Python-side check of
slow-walk-stack-grows (a 2-line file leaks too little to measure).

Run: PYTHONPATH=src python -m pytest tests/test_fuzz_smoke.py
"""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

pa = pytest.importorskip("pyarrow")
eb = pytest.importorskip("eventbatch")

FUZZ = pathlib.Path(__file__).resolve().parents[1] / "fuzz"
CORPUS = sorted(p for p in (FUZZ / "corpus").glob("*") if p.is_file())
CRASHES = sorted(p for p in (FUZZ / "crashes").glob("*") if p.is_file() and p.suffix != ".md")

# Inputs that kill the Python process (segfault/abort) must not run in-process:
# name -> reason.  Empty: none of the saved crashes takes the interpreter down.
CRASHES_PROCESS: dict[str, str] = {}

POLICIES = ("ignore", "error", "extra")
MAX_LINES = (1 << 20, 4096, 300, 100, 64, 40, 16, 1)


def _json_field(name: str) -> pa.Field:
    return pa.field(name, pa.string(), metadata={b"eventbatch.type": b"json"})


def arrow_schema(id_required: bool) -> pa.Schema:
    """The schema of fuzz/fuzz_ndjson.c (ROOT), in the same field order."""
    return pa.schema([
        pa.field("id", pa.int64(), nullable=not id_required),
        ("b", pa.bool_()), ("i8", pa.int8()), ("i16", pa.int16()), ("i32", pa.int32()),
        ("i64", pa.int64()), ("u8", pa.uint8()), ("u16", pa.uint16()), ("u32", pa.uint32()),
        ("u64", pa.uint64()), ("f32", pa.float32()), ("f64", pa.float64()), ("s", pa.string()),
        ("bin", pa.binary()), ("ts", pa.timestamp("ms")), ("d", pa.date32()),
        ("st", pa.struct([
            pa.field("req", pa.int32(), nullable=False),
            ("opt", pa.string()),
            ("in", pa.struct([("x", pa.bool_()), ("l", pa.list_(pa.float64()))])),
        ])),
        ("li", pa.list_(pa.field("item", pa.int32(), nullable=False))),
        ("ls", pa.list_(pa.struct([
            pa.field("k", pa.string(), nullable=False),
            ("v", pa.float64()),
            ("t", pa.timestamp("us")),
        ]))),
        _json_field("j"),
        ("w\u00e9\"ird", pa.struct([("q", pa.int64())])),
        ("event_ts", pa.int64()),
        ("a_much_longer_field_name", pa.string()),
    ])


class Case:
    """The decoded header of one fuzz input (see fuzz_ndjson.c parse_cfg)."""

    def __init__(self, data: bytes) -> None:
        h = (data[:6] + bytes(6))[:6]
        self.policy = POLICIES[(h[0] & 3) % 3]
        self.doc_mode = bool(h[0] >> 2 & 1)
        self.final_call = bool(h[0] >> 3 & 1)
        self.id_required = bool(h[0] >> 4 & 1)
        self.flush_each = (h[0] >> 5 & 3) in (1, 3)
        self.max_rows = 1 + (h[3] >> 2) % 8 if h[0] & 0x80 else None
        self.max_depth = 1 + h[1] % 24 if h[1] < 0xF0 else 128
        self.max_line = MAX_LINES[h[2] % 8]
        self.payload = data[6:]
        n = len(self.payload)
        a, b = sorted((n * h[4] // 256, n * h[5] // 256))
        npieces = 1 + h[3] % 3
        cuts = [0] + ([a] if npieces >= 2 else []) + ([b] if npieces == 3 else []) + [n]
        self.pieces = [self.payload[cuts[i]:cuts[i + 1]] for i in range(len(cuts) - 1)]


def _encoder(case: Case, policy: str) -> "eb.Encoder":
    schema = eb.Schema.from_arrow(arrow_schema(case.id_required), unknown_fields=policy)
    return eb.Encoder(schema, max_depth=case.max_depth, max_line_bytes=case.max_line)


def _take(enc, batches: list, rejected: list) -> None:
    b = enc.flush()
    b.validate(full=True)
    batches.append(b)
    r = enc.flush_rejected()
    r.validate(full=True)
    rejected.append(r)


def _extend(enc, block: bytes, final: bool, max_rows, batches: list, rejected: list) -> bytes:
    """extend_ndjson as a caller uses it: with max_rows, take the full batch
    and go on with the rest."""
    while True:
        if max_rows is None:
            return enc.extend_ndjson(block, final=final)
        rest = enc.extend_ndjson(block, final=final, max_rows=max_rows)
        if rest and enc.stats()["pending_rows"] >= max_rows:
            assert enc.stats()["pending_rows"] == max_rows
            _take(enc, batches, rejected)
            block = rest
            continue
        return rest


def _run(case: Case, policy: str, pieces: list[bytes], final_call: bool, flush_each: bool, max_rows=None):
    enc = _encoder(case, policy)
    batches: list = []
    rejected: list = []
    if case.doc_mode:
        enc.append_json(case.payload)
    else:
        tail = b""
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            tail = _extend(enc, tail + piece, last and not final_call, max_rows, batches, rejected)
            if flush_each:
                _take(enc, batches, rejected)
        if final_call:
            tail = _extend(enc, tail, True, max_rows, batches, rejected)
        assert tail == b"", "a tail after final=True"
    _take(enc, batches, rejected)
    table = pa.Table.from_batches(batches).combine_chunks()
    rej = pa.Table.from_batches(rejected).combine_chunks()
    return enc.stats(), table, rej


class _Obj(list):
    """A JSON object as its list of (key, value) pairs, duplicates kept."""


def _check_mirror(obj, t: pa.DataType, where: str) -> None:
    """An _extra level: an object, one member per key; declared struct/list
    fields recurse, unknown members are verbatim JSON (not checked)."""
    assert isinstance(obj, _Obj) and obj, f"{where}: not a non-empty object"
    keys = [k for k, _ in obj]
    assert len(keys) == len(set(keys)), f"{where}: duplicate keys {keys} (dict semantics: last value wins)"
    for k, v in obj:
        if pa.types.is_struct(t):
            idx = t.get_field_index(k)
            if idx < 0:
                continue  # unknown member
            sub = t.field(idx).type
            assert pa.types.is_struct(sub) or pa.types.is_list(sub), f"{where}: declared leaf `{k}` in _extra"
            _check_mirror(v, sub, f"{where}.{k}")
        else:  # list: decimal item index -> the item's mirror
            assert k.isdigit() and (k == "0" or not k.startswith("0")), f"{where}: bad index key {k!r}"
            _check_mirror(v, t.value_type, f"{where}[{k}]")


def _check_extra(table: pa.Table, schema: pa.Schema) -> None:
    if "_extra" not in table.column_names:
        return
    root = pa.struct(list(schema))
    for i, text in enumerate(table.column("_extra").to_pylist()):
        if text is None:
            continue
        _check_mirror(json.loads(text, object_pairs_hook=_Obj), root, f"_extra[{i}]")


def _ids(paths):
    return [f"{p.parent.name}/{p.name}" for p in paths]


def _params():
    out = []
    for path in CORPUS + CRASHES:
        for policy in POLICIES:
            marks = []
            if path.name in CRASHES_PROCESS and path.parent.name == "crashes":
                marks.append(pytest.mark.skip(reason=CRASHES_PROCESS[path.name]))
            out.append(pytest.param(path, policy, marks=marks, id=f"{path.parent.name}/{path.name}-{policy}"))
    return out


@pytest.mark.parametrize("path,policy", _params())
def test_fuzz_input(path: pathlib.Path, policy: str) -> None:
    case = Case(path.read_bytes())
    stats, table, rej = _run(case, policy, case.pieces, case.final_call, case.flush_each, case.max_rows)

    assert stats["inputs"] == stats["accepted"] + stats["rejected"], stats
    assert stats["accepted"] == table.num_rows, (stats, table.num_rows)
    assert stats["rejected"] == rej.num_rows, (stats, rej.num_rows)
    if not case.doc_mode:
        assert stats["bytes"] == len(case.payload), stats
        assert stats["lines"] == case.payload.count(b"\n"), stats
        nlines = case.payload.count(b"\n") + (1 if case.payload and not case.payload.endswith(b"\n") else 0)
        assert stats["inputs"] + stats["blank_lines"] == nlines, stats
    _check_extra(table, arrow_schema(case.id_required))

    if not case.doc_mode and (len(case.pieces) > 1 or case.final_call or case.flush_each or case.max_rows):
        # the same payload in one call: splitting must not change anything
        stats1, table1, rej1 = _run(case, policy, [case.payload], False, False)
        for k in ("inputs", "accepted", "rejected", "blank_lines", "extra_fields", "lines", "bytes"):
            assert stats[k] == stats1[k], (k, stats, stats1)
        same = table.equals(table1)
        assert same, "accepted rows depend on how the stream was split"
        for col in rej.column_names:
            a, b = rej.column(col).to_pylist(), rej1.column(col).to_pylist()
            diff = [(i, x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y][:1]
            assert not diff, f"rejected `{col}` depends on how the stream was split: row, split, unsplit = {diff}"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_rejected_rows_do_not_grow_encoder_memory() -> None:
    """fuzz/crashes/slow-walk-stack-not-unwound, at scale: each row the slow
    walk rejects used to leave its members on the encoder's member stack, so
    memory grew with every bad row even though everything was flushed."""
    schema = eb.Schema.from_arrow(arrow_schema(False))
    enc = eb.Encoder(schema)
    # 500 unknown members, then a type error: fast walk fails, slow walk rejects
    line = b"{" + b",".join(b'"u%d":%d' % (i, i) for i in range(500)) + b',"b":1}\n'
    block = line * 200
    enc.extend_ndjson(block)  # warm up allocations
    enc.flush_rejected()
    before = _rss_bytes()
    for _ in range(20):  # 4000 rejected rows, ~16 KiB of members each if leaked
        enc.extend_ndjson(block)
        enc.flush()
        enc.flush_rejected()
    grown = _rss_bytes() - before
    s = enc.stats()
    assert s["rejected"] == 4200 and s["inputs"] == s["accepted"] + s["rejected"]
    assert grown < 24 << 20, f"RSS grew by {grown >> 20} MiB over 4000 flushed rejected rows"
