"""Shared, seeded data for the pytest-benchmark suite in this directory.

Run with::

    PYTHONPATH=src python -m pytest benches/ --benchmark-only

Environment knobs (all optional):

* ``EVENTBATCH_BENCH_EVENTS`` -- events per data set (default 100000)
* ``EVENTBATCH_BENCH_SEED``   -- generator seed (default 1)
* ``EVENTBATCH_BENCH_ROUNDS`` -- timed rounds per benchmark (default 5, plus 1 warm-up)

Every peer runs on one thread (the issue's targets are single-threaded):
pyarrow with ``use_threads=False``, polars with ``POLARS_MAX_THREADS=1`` (set
here, before polars can be imported), duckdb with ``SET threads=1``.
``OPENBLAS_NUM_THREADS=1`` too, so that no idle BLAS thread spins.
"""
from __future__ import annotations

import io
import json
import os

# Must happen before anything imports polars: its thread pool size is fixed at import.
os.environ.setdefault("POLARS_MAX_THREADS", "1")
# Idle OpenBLAS worker threads spin and count in process CPU time (numpy is
# imported below, so this is the place).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pyarrow as pa
import pyarrow.json as pa_json
import pytest

import eventbatch as eb
from eventbatch import gen

BENCH_EVENTS = int(os.environ.get("EVENTBATCH_BENCH_EVENTS", "100000"))
BENCH_SEED = int(os.environ.get("EVENTBATCH_BENCH_SEED", "1"))
BENCH_ROUNDS = int(os.environ.get("EVENTBATCH_BENCH_ROUNDS", "5"))


def canonical(result, schema: pa.Schema) -> pa.Table:
    """Any Arrow result (RecordBatch, Table, list of batches) as one Table of ``schema``.

    ``pyarrow.json.read_json`` loses the non-nullable flags of an explicit
    schema and polars/duckdb use other string layouts, so outputs are cast to
    the declared schema before being compared; the values are not changed.
    """
    if isinstance(result, pa.RecordBatch):
        table = pa.Table.from_batches([result])
    elif isinstance(result, pa.Table):
        table = result
    elif isinstance(result, (list, tuple)):
        table = pa.Table.from_batches(list(result), schema=result[0].schema) if result else schema.empty_table()
    else:
        raise TypeError(f"unexpected result type {type(result).__name__}")
    return table.cast(schema).combine_chunks()


def num_rows(result) -> int:
    if isinstance(result, (list, tuple)):
        return sum(b.num_rows for b in result)
    if hasattr(result, "num_rows"):
        return result.num_rows
    return len(result)  # polars DataFrame


@pytest.fixture(scope="session")
def canon():
    """The :func:`canonical` helper, as a fixture (test modules do not import conftest)."""
    return canonical


@pytest.fixture(scope="session")
def count_rows():
    """The :func:`num_rows` helper, as a fixture."""
    return num_rows


@pytest.fixture(scope="session")
def n_events() -> int:
    return BENCH_EVENTS


@pytest.fixture(scope="session")
def bench_rounds() -> int:
    return BENCH_ROUNDS


@pytest.fixture(scope="session")
def arrow_schema() -> pa.Schema:
    return gen.event_schema()


@pytest.fixture(scope="session")
def eb_schema(arrow_schema) -> eb.Schema:
    return eb.Schema.from_arrow(arrow_schema)


@pytest.fixture(scope="session")
def ndjson(n_events) -> bytes:
    data = gen.generate_ndjson(n_events, seed=BENCH_SEED)
    assert data.count(b"\n") == n_events
    return data


@pytest.fixture(scope="session")
def ndjson_path(ndjson, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("eventbatch-bench") / f"events-{BENCH_EVENTS}-{BENCH_SEED}.ndjson"
    path.write_bytes(ndjson)
    return str(path)


@pytest.fixture(scope="session")
def dicts(ndjson) -> list[dict]:
    # Exactly what the NDJSON holds (gen guarantees json.loads(line) == generate_dicts()[i]).
    return [json.loads(line) for line in ndjson.splitlines()]


# --- reference outputs, computed once, outside any timed region -------------------

@pytest.fixture(scope="session")
def eb_ndjson_table(ndjson, eb_schema, arrow_schema) -> pa.Table:
    enc = eb.Encoder(eb_schema)
    enc.extend_ndjson(ndjson, final=True)
    assert enc.stats()["rejected"] == 0
    return canonical(enc.flush(), arrow_schema)


@pytest.fixture(scope="session")
def pa_ndjson_table(ndjson, arrow_schema) -> pa.Table:
    table = pa_json.read_json(
        io.BytesIO(ndjson),
        read_options=pa_json.ReadOptions(use_threads=False),
        parse_options=pa_json.ParseOptions(explicit_schema=arrow_schema),
    )
    return canonical(table, arrow_schema)


@pytest.fixture(scope="session")
def eb_dicts_table(dicts, eb_schema, arrow_schema) -> pa.Table:
    enc = eb.Encoder(eb_schema)
    enc.extend(dicts)
    assert enc.stats()["rejected"] == 0
    return canonical(enc.flush(), arrow_schema)


@pytest.fixture(scope="session")
def pa_dicts_table(dicts, arrow_schema) -> pa.Table:
    return canonical(pa.RecordBatch.from_pylist(dicts, schema=arrow_schema), arrow_schema)
