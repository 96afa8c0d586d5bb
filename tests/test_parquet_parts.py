"""eventbatch._parquet: row groups encoded apart, appended into one file.

The stitched file must read back, with pyarrow, DuckDB and Polars, as the
table it was cut from, with each row group's metadata (statistics, sizes,
encodings) as the part had it."""

from __future__ import annotations

import datetime as dt
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventbatch import gen
from eventbatch._parquet import ParquetLayoutError, Part, PartFile, encode_part


def _table(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    print(f"seed {seed}")

    def maybe(v):
        return None if rng.random() < 0.2 else v

    return pa.table({
        "i": pa.array([maybe(rng.randrange(-2 ** 63, 2 ** 63)) for _ in range(n)], pa.int64()),
        "u8": pa.array([rng.randrange(256) for _ in range(n)], pa.uint8()),
        "f": pa.array([maybe(rng.random() * 1e6) for _ in range(n)], pa.float64()),
        "b": pa.array([maybe(rng.random() < 0.5) for _ in range(n)], pa.bool_()),
        "s": pa.array([maybe("x" * rng.randrange(0, 40) + str(rng.randrange(10))) for _ in range(n)]),
        "low": pa.array([rng.choice(["a", "b", "c"]) for _ in range(n)]),
        "bin": pa.array([maybe(bytes(rng.randrange(256) for _ in range(rng.randrange(5)))) for _ in range(n)],
                        pa.binary()),
        "ts": pa.array([maybe(dt.datetime(2024, 1, 1) + dt.timedelta(seconds=rng.randrange(10 ** 7)))
                        for _ in range(n)], pa.timestamp("us", tz="UTC")),
        "d": pa.array([maybe(dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(9000))) for _ in range(n)],
                      pa.date32()),
        "lst": pa.array([maybe([maybe(rng.randrange(100)) for _ in range(rng.randrange(4))]) for _ in range(n)],
                        pa.list_(pa.int32())),
        "st": pa.array([maybe({"a": maybe(rng.randrange(5)), "z": {"q": maybe(str(rng.randrange(3)))}})
                        for _ in range(n)],
                       pa.struct([("a", pa.int16()), ("z", pa.struct([("q", pa.string())]))])),
        "nulls": pa.nulls(n, pa.string()),
    })


def _cuts(n: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    out, o = [], 0
    while o < n:
        k = rng.choice([1, 2, 17, 100, 700, 3000])
        out.append((o, min(k, n - o)))
        o += k
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("options", [
    dict(compression="zstd"),
    dict(compression="snappy", use_dictionary=False, write_statistics=False),
    dict(compression="none", data_page_size=512, bloom_filter_options={"s": {"ndv": 1000, "fpp": 0.05}}),
    dict(compression="lz4", use_dictionary=["low", "st.z.q"], data_page_version="2.0"),
])
def test_stitched_file_reads_back_everywhere(tmp_path, seed, options):
    t = _table(5000, seed)
    path = str(tmp_path / "t.parquet")
    f = PartFile(path)
    parts = []
    for i, (o, k) in enumerate(_cuts(t.num_rows, seed)):
        p = encode_part(t.slice(o, k), **options)
        parts.append((o, k, p))
        f.append(p)
        if i % 3 == 1:
            f.suspend()              # closing the OS file between appends changes nothing
    f.close()
    assert os.path.getsize(path) == f.size
    pf = pq.ParquetFile(path)
    md = pf.metadata
    assert md.num_rows == t.num_rows and md.num_row_groups == len(parts)
    assert pq.read_table(path).equals(t)
    for g, (o, k, _) in enumerate(parts):           # each row group on its own, and its metadata
        assert pf.read_row_group(g).equals(t.slice(o, k))
        ref = pq.ParquetFile(pa.BufferReader(_single(t.slice(o, k), options))).metadata.row_group(0)
        got = md.row_group(g)
        assert got.num_rows == k and got.total_byte_size == ref.total_byte_size
        for c in range(md.num_columns):
            a, b = got.column(c), ref.column(c)
            assert (a.path_in_schema, a.encodings, a.total_compressed_size, a.num_values) == \
                (b.path_in_schema, b.encodings, b.total_compressed_size, b.num_values)
            assert (a.statistics is None) == (b.statistics is None)
            if a.statistics is not None and a.statistics.has_min_max:
                assert (a.statistics.min, a.statistics.max, a.statistics.null_count) == \
                    (b.statistics.min, b.statistics.max, b.statistics.null_count)
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    assert tuple(con.sql(f"SELECT count(*), sum(u8), count(s), count(lst) FROM '{path}'").fetchall()[0]) == (
        t.num_rows, sum(t.column("u8").to_pylist()), t.num_rows - t.column("s").null_count,
        t.num_rows - t.column("lst").null_count)
    assert pa.table(con.sql(f"SELECT * FROM '{path}'")).column("s").to_pylist() == t.column("s").to_pylist()
    if "bloom_filter_options" in options:     # the relocated bloom filters answer for their row groups
        for g, (o, k, _) in enumerate(parts[:8]):
            v = next(x for x in t.column("s").slice(o, k).to_pylist() + ["none"] if x)
            probe = dict((rg, ex) for _, rg, ex in con.sql(
                f"SELECT * FROM parquet_bloom_probe('{path}', 's', '{v}')").fetchall())
            assert probe[g] is (v == "none")
        probe = con.sql(f"SELECT * FROM parquet_bloom_probe('{path}', 's', 'absent')").fetchall()
        assert sum(ex for _, _, ex in probe) >= len(parts) - 1
    pl = pytest.importorskip("polars")
    assert pl.read_parquet(path).to_arrow().column("i").to_pylist() == t.column("i").to_pylist()


def _single(t: pa.Table, options: dict) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    pq.write_table(t, sink, row_group_size=max(t.num_rows, 1), **options)
    return sink.getvalue()


def test_events_schema_and_byte_identical_reruns(tmp_path):
    t = pa.Table.from_pylist(gen.generate_dicts(3000, seed=5, dup_rate=0.1), schema=gen.event_schema())
    out = []
    for name in ("a", "b"):
        f = PartFile(str(tmp_path / f"{name}.parquet"))
        for o in range(0, t.num_rows, 999):
            f.append(encode_part(t.slice(o, 999), compression="zstd"))
        f.close()
        out.append((tmp_path / f"{name}.parquet").read_bytes())
    assert out[0] == out[1]
    assert pq.read_table(tmp_path / "a.parquet").equals(t)
    assert pq.read_table(tmp_path / "a.parquet").schema.equals(t.schema, check_metadata=False)


def test_layout_errors(tmp_path):
    with pytest.raises(ParquetLayoutError):
        Part.from_file_bytes(b"not parquet at all")
    t = pa.table({"x": list(range(10))})
    sink = pa.BufferOutputStream()
    pq.write_table(t, sink, row_group_size=5)
    with pytest.raises(ParquetLayoutError, match="one row group"):
        Part.from_file_bytes(sink.getvalue())
    sink = pa.BufferOutputStream()
    pq.write_table(t, sink, write_page_index=True)
    with pytest.raises(ParquetLayoutError, match="page index"):
        Part.from_file_bytes(sink.getvalue())
    f = PartFile(str(tmp_path / "empty.parquet"))
    with pytest.raises(ParquetLayoutError):
        f.close()
    f.abort()
    assert not (tmp_path / "empty.parquet").exists()
