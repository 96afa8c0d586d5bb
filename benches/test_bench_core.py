"""Side-by-side micro-benchmarks: events -> Arrow, eventbatch vs peers.

One benchmark per (operation, library), all on the same seeded data (see
conftest.py), one thread each.  Every benchmark asserts the row count of the
result it timed; the eventbatch and pyarrow benchmarks also assert that their
outputs are equal (``Table.equals`` after a cast to the declared schema), on
the result of the timed call but outside the timed region.

    PYTHONPATH=src python -m pytest benches/ --benchmark-only
"""
from __future__ import annotations

import io
import types

import pyarrow as pa
import pyarrow.json as pa_json
import pytest

import eventbatch as eb

NDJSON = "ndjson -> Arrow"
DICTS = "dicts -> Arrow"
THREADS = "read_ndjson threads"


def run(benchmark, fn, rounds):
    """Fixed number of rounds (keeps the suite's duration bounded), one warm-up."""
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)


# ---------------------------------------------------------------------------
# NDJSON bytes -> Arrow
# ---------------------------------------------------------------------------

@pytest.mark.benchmark(group=NDJSON)
def test_ndjson_eventbatch(benchmark, bench_rounds, ndjson, eb_schema, arrow_schema,
                           n_events, canon, pa_ndjson_table):
    def encode():
        enc = eb.Encoder(eb_schema)
        enc.extend_ndjson(ndjson, final=True)
        return enc.flush()

    batch = run(benchmark, encode, bench_rounds)
    assert batch.num_rows == n_events
    assert canon(batch, arrow_schema).equals(pa_ndjson_table), \
        "eventbatch NDJSON output differs from pyarrow.json.read_json"


@pytest.mark.benchmark(group=NDJSON)
def test_ndjson_pyarrow_read_json(benchmark, bench_rounds, ndjson, arrow_schema, n_events,
                                  canon, eb_ndjson_table):
    read_options = pa_json.ReadOptions(use_threads=False)
    parse_options = pa_json.ParseOptions(explicit_schema=arrow_schema)

    def read():
        return pa_json.read_json(io.BytesIO(ndjson), read_options=read_options,
                                 parse_options=parse_options)

    table = run(benchmark, read, bench_rounds)
    assert table.num_rows == n_events
    assert canon(table, arrow_schema).equals(eb_ndjson_table), \
        "pyarrow.json.read_json output differs from eventbatch"


@pytest.mark.benchmark(group=NDJSON)
def test_ndjson_orjson_from_pylist(benchmark, bench_rounds, ndjson, arrow_schema, n_events):
    orjson = pytest.importorskip("orjson")
    loads = orjson.loads

    def read():
        return pa.RecordBatch.from_pylist([loads(line) for line in ndjson.splitlines()],
                                          schema=arrow_schema)

    batch = run(benchmark, read, bench_rounds)
    assert batch.num_rows == n_events


@pytest.mark.benchmark(group=NDJSON)
def test_ndjson_polars(benchmark, bench_rounds, ndjson, arrow_schema, n_events):
    pl = pytest.importorskip("polars")
    pl_schema = pl.from_arrow(arrow_schema.empty_table()).schema

    def read():
        return pl.read_ndjson(io.BytesIO(ndjson), schema=pl_schema)

    df = run(benchmark, read, bench_rounds)
    assert df.height == n_events


def _duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f'"{f.name}" {_duckdb_type(f.type)}' for f in t) + ")"
    return {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
            pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN"}[t]


@pytest.mark.benchmark(group=NDJSON)
def test_ndjson_duckdb(benchmark, bench_rounds, ndjson_path, arrow_schema, n_events):
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.execute("SET threads=1")
    columns = "{" + ", ".join(f"'{f.name}': '{_duckdb_type(f.type)}'" for f in arrow_schema) + "}"
    path = ndjson_path.replace("'", "''")
    # duckdb reads the file (from the page cache): it cannot take bytes without fsspec.
    query = f"SELECT * FROM read_json('{path}', format='newline_delimited', columns={columns})"

    def read():
        rel = con.sql(query)
        return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()

    table = run(benchmark, read, bench_rounds)
    assert table.num_rows == n_events
    con.close()


# ---------------------------------------------------------------------------
# list of dicts -> Arrow
# ---------------------------------------------------------------------------

@pytest.mark.benchmark(group=DICTS)
def test_dicts_eventbatch(benchmark, bench_rounds, dicts, eb_schema, arrow_schema, n_events,
                          canon, pa_dicts_table):
    def encode():
        enc = eb.Encoder(eb_schema)
        enc.extend(dicts)
        return enc.flush()

    batch = run(benchmark, encode, bench_rounds)
    assert batch.num_rows == n_events
    assert canon(batch, arrow_schema).equals(pa_dicts_table), \
        "eventbatch dicts output differs from pa.RecordBatch.from_pylist"


@pytest.mark.benchmark(group=DICTS)
def test_dicts_pyarrow_from_pylist(benchmark, bench_rounds, dicts, arrow_schema, n_events,
                                   canon, eb_dicts_table):
    batch = run(benchmark, lambda: pa.RecordBatch.from_pylist(dicts, schema=arrow_schema),
                bench_rounds)
    assert batch.num_rows == n_events
    assert canon(batch, arrow_schema).equals(eb_dicts_table), \
        "pa.RecordBatch.from_pylist output differs from eventbatch"


@pytest.mark.benchmark(group=DICTS)
def test_dicts_polars_from_dicts(benchmark, bench_rounds, dicts, arrow_schema, n_events):
    pl = pytest.importorskip("polars")
    pl_schema = pl.from_arrow(arrow_schema.empty_table()).schema
    df = run(benchmark, lambda: pl.from_dicts(dicts, schema=pl_schema), bench_rounds)
    assert df.height == n_events


# ---------------------------------------------------------------------------
# eventbatch.read_ndjson, one thread vs two
# ---------------------------------------------------------------------------

def _as_table(result, schema: pa.Schema) -> pa.Table:
    if isinstance(result, pa.RecordBatchReader):
        return result.read_all()
    if isinstance(result, (types.GeneratorType, map, filter)) or (
            hasattr(result, "__iter__") and hasattr(result, "__next__")):
        result = list(result)
    if isinstance(result, pa.RecordBatch):
        return pa.Table.from_batches([result])
    if isinstance(result, (list, tuple)):
        return pa.Table.from_batches(list(result), schema=result[0].schema) if result \
            else schema.empty_table()
    return result


@pytest.fixture(scope="module")
def read_ndjson_schema(ndjson_path, eb_schema, arrow_schema):
    """Which schema object read_ndjson takes (eventbatch.Schema first, else pyarrow.Schema)."""
    read_ndjson = getattr(eb, "read_ndjson", None)
    if read_ndjson is None:
        pytest.skip("eventbatch.read_ndjson does not exist yet: two-thread scenario skipped")
    try:
        read_ndjson(ndjson_path, eb_schema, threads=1)
        return eb_schema
    except (TypeError, eb.SchemaError):
        read_ndjson(ndjson_path, arrow_schema, threads=1)
        return arrow_schema


@pytest.mark.benchmark(group=THREADS)
@pytest.mark.parametrize("threads", [1, 2])
def test_read_ndjson_threads(benchmark, bench_rounds, threads, ndjson_path, read_ndjson_schema,
                             arrow_schema, n_events, canon, eb_ndjson_table):
    def read():
        return _as_table(eb.read_ndjson(ndjson_path, read_ndjson_schema, threads=threads),
                         arrow_schema)

    table = run(benchmark, read, bench_rounds)
    assert table.num_rows == n_events
    assert canon(table, arrow_schema).equals(eb_ndjson_table), \
        f"read_ndjson(threads={threads}) output differs from Encoder.extend_ndjson"
