"""Per-event hashes computed by the encoder: key hash == hash64 of the key
column; content hash is blind to key order, whitespace, escaping and number
spelling, and sees every typed value."""

import json
import random

import numpy as np
import pyarrow as pa
import pytest

import eventbatch as eb
from eventbatch import gen

SCHEMA = gen.event_schema()


def encode(lines, **kw):
    enc = eb.Encoder(SCHEMA, **kw)
    enc.extend_ndjson(b"\n".join(lines) + b"\n")
    return enc.flush()


def test_key_hash_equals_hash64_of_the_key_column():
    data = gen.generate_ndjson(3000, seed=2)
    enc = eb.Encoder(SCHEMA, hash_key="event_id", hash_column="_hash")
    enc.extend_ndjson(data, final=True)
    b = enc.flush()
    assert b.schema.field("_hash").type == pa.uint64()
    assert np.array_equal(b.column("_hash").to_numpy(), eb.hash64(b.column("event_id")))
    enc = eb.Encoder(SCHEMA, hash_key=["event_id", "user_id"], hash_column="h", hash_type="int64")
    enc.extend(gen.generate_dicts(100, seed=2))
    b = enc.flush()
    h1, h2 = eb.hash64(b.column("event_id")), eb.hash64(b.column("user_id"))
    want = h1 ^ (h2 + np.uint64(0x9E3779B97F4A7C15) + (h1 << np.uint64(6)) + (h1 >> np.uint64(2)))
    assert np.array_equal(b.column("h").to_numpy().view(np.uint64), want)


def reshape(obj, rng):
    """Same content, another spelling: shuffled keys, whitespace, escapes."""
    if isinstance(obj, dict):
        items = list(obj.items())
        rng.shuffle(items)
        return "{" + " , ".join(f'{json.dumps(k, ensure_ascii=rng.random() < 0.5)} :\t{reshape(v, rng)}'
                                for k, v in items) + "}"
    if isinstance(obj, list):
        return "[ " + ",".join(reshape(v, rng) for v in obj) + " ]"
    if isinstance(obj, float) and rng.random() < 0.5:
        return repr(obj).replace("e+", "E")  # the same double, spelt otherwise
    return json.dumps(obj, ensure_ascii=rng.random() < 0.5)


def test_content_hash_is_blind_to_spelling():
    rng = random.Random(7)
    dicts = gen.generate_dicts(2000, seed=3)
    plain = [json.dumps(d).encode() for d in dicts]
    other = [reshape(d, rng).encode() for d in dicts]
    a = encode(plain, content_hash_column="_content")
    b = encode(other, content_hash_column="_content")
    assert a.column("event_id").equals(b.column("event_id"))
    assert a.column("_content").equals(b.column("_content"))
    enc = eb.Encoder(SCHEMA, content_hash_column="_content")
    enc.extend(dicts)
    assert enc.flush().column("_content").equals(a.column("_content"))


def test_content_hash_sees_every_value_and_excludes_volatile_fields():
    base = gen.generate_dicts(1, seed=4)[0]
    variants = []
    for key in ("event_id", "user_id", "client_ts", "country"):
        d = json.loads(json.dumps(base))
        d[key] = d[key] + (1 if isinstance(d[key], int) else "x")
        variants.append(d)
    d = json.loads(json.dumps(base)); d["payload"] = None; variants.append(d)
    d = json.loads(json.dumps(base)); d["country"] = None; variants.append(d)
    lines = [json.dumps(x).encode() for x in [base] + variants]
    h = encode(lines, content_hash_column="c").column("c").to_pylist()
    assert len(set(h)) == len(h)              # every change changes the hash
    v = encode(lines, content_hash_column="c", hash_exclude=["client_ts"]).column("c").to_pylist()
    assert v[0] == v[3] and len(set(v)) == len(v) - 1   # the client_ts change is ignored


def test_content_hash_tells_which_field_holds_a_value():
    """Nulls add nothing to the content hash, so the position of each present
    field must: the same value moved to a sibling of the same type, a
    struct's null fields against its absence, a list's null items."""
    schema = eb.Schema.from_json({"fields": [
        {"name": "a", "type": "int64"}, {"name": "b", "type": "int64"},
        {"name": "s", "type": {"type": "struct", "fields": [
            {"name": "x", "type": "string"}, {"name": "y", "type": "string"}]}},
        {"name": "l", "type": {"type": "list", "item": "int64"}},
    ]})
    rows = [{"a": 1}, {"b": 1}, {"a": 1, "b": None}, {"s": {"x": "v"}}, {"s": {"y": "v"}},
            {"s": {}}, {"s": None}, {"l": [None, 1]}, {"l": [1, None]}, {"l": []}, {"l": None},
            {"l": [None]}, {}]
    enc = eb.Encoder(schema, content_hash_column="c")
    enc.extend(rows)
    h = enc.flush().column("c").to_pylist()
    # {"a": 1, "b": null} is the same content as {"a": 1}; {"s": null}, {"l": null}
    # and {} are the same as each other; every other pair differs
    same = {(0, 2), (6, 12), (10, 12), (6, 10)}
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            assert (h[i] == h[j]) == ((i, j) in same), (rows[i], rows[j])


def test_hash_options_are_checked():
    with pytest.raises(eb.SchemaError):
        eb.Encoder(SCHEMA, hash_key="nope", hash_column="_hash")
    with pytest.raises(eb.SchemaError):
        eb.Encoder(SCHEMA, hash_column="event_id")
    with pytest.raises(ValueError):
        eb.Encoder(SCHEMA, hash_column="_h", hash_type="uint32")


def test_rejected_rows_do_not_shift_hashes():
    data = gen.generate_ndjson(2000, seed=6, malformed_rate=0.1)
    enc = eb.Encoder(SCHEMA, hash_key="event_id", hash_column="_hash", content_hash_column="_c")
    tail = b""
    for i in range(0, len(data), 7777):
        tail = enc.extend_ndjson(tail + data[i:i + 7777])
    enc.extend_ndjson(tail, final=True)
    b = enc.flush()
    b.validate(full=True)
    assert np.array_equal(b.column("_hash").to_numpy(), eb.hash64(b.column("event_id")))


@pytest.mark.parametrize("seed,mode", [(1, "random"), (2, "random"), (3, "random"), (4, "keep_all"),
                                       (5, "drop_all"), (6, "drop_last"), (7, "drop_first"),
                                       (8, "drop_tail_half"), (9, "sparse_drops"), (10, "long_runs")])
def test_row_filter_compacts_every_kind_of_column(seed, mode):
    """The encoder's in-place compaction equals Arrow's filter, for every type."""
    rng = np.random.default_rng(seed)
    schema = eb.Schema.from_json({"unknown_fields": "extra", "fields": [
        {"name": "s", "type": "string"}, {"name": "i8", "type": "int8"}, {"name": "b", "type": "bool"},
        {"name": "f", "type": "float32"}, {"name": "bin", "type": "binary"}, {"name": "j", "type": "json"},
        {"name": "ts", "type": "timestamp[us, tz=UTC]"}, {"name": "d", "type": "date32"},
        {"name": "l", "type": {"type": "list", "item": {"type": "list", "item": "int64"}}},
        {"name": "st", "type": {"type": "struct", "fields": [
            {"name": "x", "type": "string"}, {"name": "y", "type": {"type": "list", "item": "bool"}},
            {"name": "z", "type": {"type": "struct", "fields": [{"name": "w", "type": "uint16"}]}}]}},
    ]})
    events = []
    for i in range(700):
        e = {"s": "x" * int(rng.integers(0, 20)) if rng.random() < 0.9 else None,
             "i8": int(rng.integers(-128, 128)), "b": bool(rng.random() < 0.5), "f": float(rng.random()),
             "bin": bytes(rng.integers(0, 256, int(rng.integers(0, 5)), dtype=np.uint8)),
             "j": {"k": [int(rng.integers(0, 9))]} if rng.random() < 0.7 else None,
             "ts": int(rng.integers(0, 10**15)), "d": int(rng.integers(0, 20000)),
             "l": [[int(v) for v in rng.integers(0, 9, int(rng.integers(0, 3)))] for _ in range(int(rng.integers(0, 3)))]
             if rng.random() < 0.8 else None,
             "st": {"x": "y" * int(rng.integers(0, 5)), "y": [bool(v) for v in rng.integers(0, 2, 3)],
                    "z": {"w": int(rng.integers(0, 65536))} if rng.random() < 0.6 else None}
             if rng.random() < 0.8 else None}
        if rng.random() < 0.2:
            e["unknown"] = i
        events.append(e)
    masks = []

    def keep(key, content, present, times):
        n = len(content)
        m = {"random": lambda: rng.random(n) < 0.6, "keep_all": lambda: np.ones(n, bool),
             "drop_all": lambda: np.zeros(n, bool),
             "drop_last": lambda: np.arange(n) != n - 1, "drop_first": lambda: np.arange(n) != 0,
             "drop_tail_half": lambda: np.arange(n) < n // 2,
             # re-send-like: runs of kept rows far longer than a 56-bit chunk
             "sparse_drops": lambda: rng.random(n) >= 0.02,
             "long_runs": lambda: np.repeat(rng.random(n) < 0.5, rng.integers(1, 200, n))[:n]}[mode]()
        masks.append(m)
        return m

    full = eb.Encoder(schema)
    full.extend(events)
    want = pa.Table.from_batches([full.flush()])
    enc = eb.Encoder(schema, content_hash_column="_c")
    enc._set_row_filter(keep)
    enc.extend(events[:300])
    b1 = enc.flush()
    enc.extend(events[300:])
    b2 = enc.flush()
    for b in (b1, b2):
        b.validate(full=True)
    mask = np.concatenate(masks)
    got = pa.Table.from_batches([b1, b2]).drop_columns(["_c"])
    assert got.equals(want.filter(pa.array(mask)))
