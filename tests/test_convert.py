"""eventbatch convert / inspect: against DuckDB, reconciliation, idempotence,
kill and rerun, CLI error paths, frame files."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import eventbatch as eb
from eventbatch import gen
from eventbatch.convert import ConvertError, ConvertUsageError, convert

duckdb = pytest.importorskip("duckdb")

SCHEMA = eb.Schema.from_arrow(gen.event_schema())
COLUMNS = gen.event_schema().names
PARTS = "event_type,date,hour"


def _cli(*args, env=None, input=None, timeout=60):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "eventbatch", *map(str, args)], capture_output=True,
                          text=True, env=e, input=input, timeout=timeout)


def _files(out) -> dict[str, bytes]:
    """Every visible file of a dataset: relative path -> bytes."""
    res = {}
    for root, dirs, files in os.walk(out):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                res[os.path.relpath(p, out)] = fh.read()
    return res


def _read_rows(out) -> list[dict]:
    t = ds.dataset(str(out), format="parquet", partitioning="hive").to_table()
    t = t.select(COLUMNS).cast(gen.event_schema())
    return t.to_pylist()


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f'"{f.name}" {_duck_type(f.type)}' for f in t) + ")"
    return {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
            pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN"}[t]


def _duckdb_distinct(path) -> list[dict]:
    cols = "{" + ", ".join(f"'{f.name}': '{_duck_type(f.type)}'" for f in gen.event_schema()) + "}"
    con = duckdb.connect()
    con.execute("SET threads TO 1")
    t = con.sql(f"SELECT DISTINCT ON (event_id) * FROM read_json('{path}', format='newline_delimited', "
                    f"columns={cols})")
    t = pa.table(t)          # the Arrow C stream interface: any duckdb version
    return t.cast(gen.event_schema()).to_pylist()


def _key(row: dict) -> str:
    return json.dumps(row, sort_keys=True, default=str)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("convert")
    valid = d / "valid.ndjson"
    gen.write_ndjson(valid, 4000, seed=11, dup_rate=0.05)
    messy = d / "messy.ndjson.gz"
    gen.write_ndjson(messy, 3000, seed=12, dup_rate=0.05, malformed_rate=0.03)
    schema = d / "events.schema.json"
    SCHEMA.save(schema)
    return {"dir": d, "valid": valid, "messy": messy, "schema": schema}


# ---------------------------------------------------------------------------
# against DuckDB

def test_equals_duckdb_distinct_on(data, tmp_path):
    out = tmp_path / "lake"
    rep = convert([data["valid"]], out, schema=SCHEMA, dedup_key="event_id", time_field="client_ts",
                  partition_by=PARTS, threads=2, row_group_rows=300, file_rows=700, block_size=64 << 10)
    assert rep.balanced
    ours = _read_rows(out)
    duck = _duckdb_distinct(data["valid"])
    assert len(ours) == len(duck) == rep.totals["written"]
    assert rep.totals["duplicates"] > 0
    assert {r["event_id"] for r in ours} == {r["event_id"] for r in duck}
    # full rows of the events that occur once
    lines = [json.loads(x) for x in open(data["valid"], "rb").read().splitlines()]
    counts: dict[str, int] = {}
    for x in lines:
        counts[x["event_id"]] = counts.get(x["event_id"], 0) + 1
    once = {k for k, v in counts.items() if v == 1}
    assert len(once) > len(ours) * 0.8
    assert ({_key(r) for r in ours if r["event_id"] in once}
            == {_key(r) for r in duck if r["event_id"] in once})
    # and every kept row is the first occurrence
    first: dict[str, dict] = {}
    for x in lines:
        first.setdefault(x["event_id"], x)
    by_id = {r["event_id"]: r for r in ours}
    for k, x in list(first.items())[:500]:
        assert by_id[k]["client_ts"] == x["client_ts"] and by_id[k]["event_type"] == x["event_type"]


def test_partitions_follow_the_time_field_in_utc(data, tmp_path):
    out = tmp_path / "lake"
    convert([data["valid"]], out, schema=SCHEMA, dedup_key="event_id", time_field="client_ts",
            partition_by=PARTS)
    t = ds.dataset(str(out), format="parquet", partitioning=ds.partitioning(
        pa.schema([("event_type", pa.string()), ("date", pa.string()), ("hour", pa.string())]),
        flavor="hive")).to_table()
    import datetime as dt
    for row in t.select(["client_ts", "date", "hour"]).to_pylist()[:2000]:
        d = dt.datetime.fromtimestamp(row["client_ts"] / 1000, dt.timezone.utc)
        assert (row["date"], row["hour"]) == (d.strftime("%Y-%m-%d"), d.strftime("%H"))
    f = glob.glob(str(out / "event_type=*" / "date=*" / "hour=*" / "part-00000.parquet"))[0]
    md = pq.ParquetFile(f).metadata
    assert "event_type" not in md.schema.names           # a partition column, Hive style
    col = md.row_group(0).column(0)
    assert col.compression == "ZSTD" and col.statistics is not None and col.statistics.has_min_max


# ---------------------------------------------------------------------------
# reconciliation and rejected rows

def test_reconciliation_balances_with_duplicates_malformed_and_blank_lines(data, tmp_path):
    raw = gen.generate_ndjson(2000, seed=5, dup_rate=0.05, malformed_rate=0.05)
    lines = raw.split(b"\n")
    lines.insert(10, b"   ")
    lines.insert(500, b"")
    src = tmp_path / "in.ndjson"
    src.write_bytes(b"\n".join(lines))
    out = tmp_path / "lake"
    rep = convert([src, data["messy"]], out, schema=SCHEMA, dedup_key="event_id",
                  time_field="client_ts", partition_by="event_type,date", block_size=32 << 10)
    m = json.loads((out / "_manifest.json").read_text())
    tot = m["totals"]
    assert m["reconciliation"]["balanced"]
    assert tot["lines_read"] == tot["written"] + tot["duplicates"] + tot["rejected"] + tot["blank_lines"]
    assert tot["blank_lines"] >= 2 and tot["duplicates"] > 0 and tot["rejected"] > 0
    assert sum(p["rows"] for p in m["partitions"]) == tot["written"] == len(_read_rows(out))
    for f in m["inputs"]:
        assert f["lines"] == f["written"] + f["duplicates"] + f["rejected"] + f["blank_lines"]
    rej = pq.read_table(out / "_rejected" / "part-00000.parquet")
    assert rej.num_rows == tot["rejected"] == sum(m["rejected"]["by_reason"].values())
    assert set(rej.schema.names) >= {"raw", "source", "line", "reason", "message"}
    # line numbers point at the raw line in its file
    text = src.read_bytes().split(b"\n")
    for r in rej.to_pylist():
        if r["source"] == str(src):
            assert text[r["line"] - 1].rstrip(b"\r")[:4096] == r["raw"]
    assert rep.totals == tot


def _line_offsets(data: bytes) -> list[int]:
    """Byte offset of each line (1-based line number -> offsets[n - 1])."""
    offs = [0]
    for i, c in enumerate(data):
        if c == 10:
            offs.append(i + 1)
    return offs


def _check_provenance(out, src, data: bytes, expected: dict[int, str]) -> list[dict]:
    """The rejected rows are exactly the lines `expected` (line -> reason),
    each with its raw bytes (no CR, no BOM), file, line number and byte offset."""
    rej = pq.read_table(out / "_rejected" / "part-00000.parquet").to_pylist()
    offs = _line_offsets(data)
    lines = data.split(b"\n")
    assert {r["line"]: r["reason"] for r in rej} == expected
    for r in rej:
        raw = lines[r["line"] - 1]
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        raw = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
        assert r["raw"] == raw, r
        assert r["offset"] == offs[r["line"] - 1], r
        assert r["source"] == str(src)
        assert r["path"] == "$.t" or r["reason"] in ("invalid_json",), r
    return rej


TIME_LINES_INT = [
    b'{"id": "a", "t": 1704164645000}',                      # 1 ok: 2024-01-02 03:04
    b'{"id": "b"}',                                         # 2 missing
    b'{"id": "c", "t": null}',                              # 3 null
    b'{"id": "d", "t": "yesterday"}',                       # 4 a string in an int field
    b'{"id": "e", "t": 99999999999999999999}',              # 5 beyond int64
    b'{"id": "f", "t": 300000000000000000}',                # 6 int64, but year > 9999
    b'',                                                    # 7 blank
    b'{"id": "g", "t": -70000000000000}\r',                 # 8 before year 0000, CRLF
    b'\xef\xbb\xbf{"id": "h", "t": 253402300800000}',         # 9 BOM; 10000-01-01T00:00Z: out
    b'{"id": "i", "t": 253402300799999}',                   # 10 ok: 9999-12-31 23:59
    b'{"id": "j", "t": 1.5}',                               # 11 a float
    b'{"id": "k", "t": -62167219200000}',                   # 12 ok: 0000-01-01 00:00
    b'nope',                                                # 13 not JSON
    b'{"id": "l", "t": 1704164645000}',                     # 14 ok
]


@pytest.mark.parametrize("threads,block_size", [(1, 4 << 20), (2, 64), (2, 4 << 20)])
def test_time_rejections_keep_raw_line_and_offset(tmp_path, threads, block_size):
    schema = eb.Schema.from_arrow(pa.schema([("id", pa.string()), ("t", pa.int64())]))
    data = b"\n".join(TIME_LINES_INT * 3) + b"\n"
    src = tmp_path / "in.ndjson"
    src.write_bytes(data)
    out = tmp_path / "lake"
    rep = convert([src], out, schema=schema, time_field="t", partition_by="date,hour", threads=threads,
                  block_size=block_size)
    assert rep.balanced
    assert rep.totals["written"] == 4 * 3 and rep.totals["blank_lines"] == 3
    per = {2: "missing_required", 3: "missing_required", 4: "type_mismatch", 5: "out_of_range",
           6: "out_of_range", 8: "out_of_range", 9: "out_of_range", 11: "type_mismatch", 13: "invalid_json"}
    expected = {k + 14 * i: v for i in range(3) for k, v in per.items()}
    rej = _check_provenance(out, src, data, expected)
    msg = {r["line"]: r["message"] for r in rej}
    assert msg[6] == "expected a time in years 0000..9999, got `300000000000000000` (ms since the epoch) at `$.t`"
    assert [r["line"] for r in rej] == sorted(r["line"] for r in rej)         # in input order
    assert rep.manifest["rejected"]["by_reason"] == {"invalid_json": 3, "missing_required": 6,
                                                     "out_of_range": 12, "type_mismatch": 6}
    parts = sorted(p["path"] for p in rep.manifest["partitions"])
    assert parts == ["date=0000-01-01/hour=00", "date=2024-01-02/hour=03", "date=9999-12-31/hour=23"]
    t = ds.dataset(str(out), format="parquet", partitioning="hive").to_table()
    assert sorted(t.column("id").to_pylist()) == sorted(["a", "i", "k", "l"] * 3)
    assert t.schema.field("t").type == pa.int64()               # the declared type is kept


def test_time_rejections_strings_and_timestamps(tmp_path):
    data = (b'{"id": "a", "t": "2024-01-02T03:04:05Z"}\n{"id": "b"}\n{"id": "c", "t": "yesterday"}\n'
            b'{"id": "d", "t": "2024-01-02T23:59:59.5+02:00"}\n{"id": "e", "t": null}\n'
            b'{"id": "f", "t": "2024-13-01T00:00:00Z"}\n{"id": "g", "t": "2024-01-02T03:04:05.123456789Z"}\n'
            b'{"id": "h", "t": 17}\n{"id": "i", "t": "9999-12-31T23:59:59.999999Z"}\n')
    src = tmp_path / "in.ndjson"
    src.write_bytes(data)
    schema = eb.Schema.from_arrow(pa.schema([("id", pa.string()), ("t", pa.string())]))
    out = tmp_path / "lake"
    rep = convert([src], out, schema=schema, time_field="t", partition_by="date,hour")
    assert rep.balanced and rep.totals["written"] == 4
    _check_provenance(out, src, data, {2: "missing_required", 3: "invalid_value", 5: "missing_required",
                                       6: "invalid_value", 7: "invalid_value"})
    t = ds.dataset(str(out), format="parquet", partitioning="hive").to_table()
    assert t.schema.field("t").type == pa.timestamp("us", tz="UTC")      # parsed by the core
    assert sorted(p["path"] for p in rep.manifest["partitions"]) == [
        "date=1970-01-01/hour=00", "date=2024-01-02/hour=03", "date=2024-01-02/hour=21",
        "date=9999-12-31/hour=23"]
    # a timestamp column: an integer is an epoch count in its unit; out of years 0000..9999 is rejected
    data = b'{"id": "a", "t": 1700000000}\n{"id": "b", "t": 400000000000}\n{"id": "c", "t": "2024-01-02T00:00:00Z"}\n'
    src.write_bytes(data)
    schema = eb.Schema.from_arrow(pa.schema([("id", pa.string()), ("t", pa.timestamp("s"))]))
    rep = convert([src], out, schema=schema, time_field="t", partition_by="date")
    assert rep.totals["written"] == 2
    rej = _check_provenance(out, src, data, {2: "out_of_range"})
    assert rej[0]["message"] == ("expected a time in years 0000..9999, got `400000000000` (s since the epoch) "
                                 "at `$.t`")


def test_time_rejections_from_frames(tmp_path):
    schema = pa.schema([("id", pa.string()), ("t", pa.int64())])
    batch = pa.RecordBatch.from_pylist([{"id": "a", "t": 0}, {"id": "b", "t": None},
                                        {"id": "c", "t": 2 ** 62}, {"id": "d", "t": 3600000}], schema=schema)
    sink = eb.FileSink(tmp_path / "frames", fsync=False)
    sink.write([eb.encode_frame(batch, producer_id=uuid.UUID(int=1), seq=0),
                eb.encode_frame(batch.slice(1, 2), producer_id=uuid.UUID(int=1), seq=1)])
    sink.close()
    rep = convert(sink.files, tmp_path / "lake", time_field="t", partition_by="hour")
    assert rep.balanced and rep.totals["written"] == 2 and rep.totals["rejected"] == 4
    rej = pq.read_table(tmp_path / "lake" / "_rejected" / "part-00000.parquet").to_pylist()
    assert [(r["line"], r["offset"], r["reason"], json.loads(r["raw"])["id"]) for r in rej] == [
        (None, 1, "missing_required", "b"), (None, 2, "out_of_range", "c"),
        (None, 4, "missing_required", "b"), (None, 5, "out_of_range", "c")]
    assert json.loads(rej[1]["raw"]) == {"id": "c", "t": 2 ** 62}


def test_time_units_and_timestamp_columns(tmp_path):
    src = tmp_path / "in.ndjson"
    src.write_text('{"id": "a", "t": 1700000000}\n{"id": "b", "t": 1700003600}\n')
    s = eb.Schema.from_arrow(pa.schema([("id", pa.string()), ("t", pa.int64())]))
    convert([src], tmp_path / "a", schema=s, time_field="t", time_unit="s", partition_by="date,hour")
    assert sorted(os.listdir(tmp_path / "a" / "date=2023-11-14")) == ["hour=22", "hour=23"]
    ts = eb.Schema.from_arrow(pa.schema([("id", pa.string()), ("t", pa.timestamp("s"))]))
    convert([src], tmp_path / "b", schema=ts, time_field="t", partition_by="date,hour")
    assert sorted(os.listdir(tmp_path / "b" / "date=2023-11-14")) == ["hour=22", "hour=23"]


# ---------------------------------------------------------------------------
# size targets

def test_row_group_and_file_byte_targets(data, tmp_path):
    out = tmp_path / "lake"
    rg_bytes, file_bytes = 100_000, 150_000
    rep = convert([data["valid"], data["messy"]], out, schema=SCHEMA, dedup_key="event_id",
                  row_group_bytes=rg_bytes, row_group_rows=10 ** 9, file_bytes=file_bytes,
                  threads=2, block_size=32 << 10)
    files = [out / f for f in rep.manifest["partitions"][0]["files"]]
    assert len(files) >= 3
    rows = 0
    for i, f in enumerate(files):
        pf = pq.ParquetFile(f)
        size = os.path.getsize(f)
        groups = [pf.read_row_group(g) for g in range(pf.metadata.num_row_groups)]
        largest = max(pf.metadata.row_group(g).total_byte_size for g in range(pf.metadata.num_row_groups))
        if i < len(files) - 1:
            # a file rolls after the row group that takes it to file_bytes
            assert file_bytes <= size < file_bytes + 2 * largest
            for g in groups:            # Arrow size of a row group: the target, within 5%
                assert abs(g.nbytes - rg_bytes) < 0.05 * rg_bytes, g.nbytes
        assert all(g.nbytes < 1.05 * rg_bytes for g in groups)
        rows += pf.metadata.num_rows
    assert rows == rep.totals["written"]
    # rows targets: files of at most file_rows rows, row groups of at most row_group_rows
    out2 = tmp_path / "rows"
    rep = convert([data["valid"]], out2, schema=SCHEMA, row_group_rows=300, file_rows=1000)
    mds = [pq.ParquetFile(out2 / f).metadata for f in rep.manifest["partitions"][0]["files"]]
    assert [m.num_rows for m in mds] == [900] * 4 + [400]
    assert {m.row_group(g).num_rows for m in mds for g in range(m.num_row_groups)} == {300, 100}
    # the same files for any thread count
    rep1 = convert([data["valid"], data["messy"]], tmp_path / "t1", schema=SCHEMA, dedup_key="event_id",
                   row_group_bytes=rg_bytes, row_group_rows=10 ** 9, file_bytes=file_bytes, threads=1,
                   block_size=32 << 10)
    assert rep1.totals["written"] == rows
    assert _files(tmp_path / "t1") == _files(out)


@pytest.mark.parametrize("budget", [dict(max_buffered_rows=300), dict(max_buffered_bytes="64KiB"),
                                    dict(max_buffered_rows=50, max_open_writers=3)])
def test_small_buffer_budget_same_rows(data, tmp_path, budget):
    """Over the buffer budget, partitions are cut (or compacted, when small) in
    LRU order: the same rows land in the same partitions, one file each."""
    kw = dict(schema=SCHEMA, dedup_key="event_id", time_field="client_ts", partition_by=PARTS,
              block_size=16 << 10)
    ref = convert([data["messy"]], tmp_path / "ref", **kw)
    rep = convert([data["messy"]], tmp_path / "small", threads=2, **kw, **budget)
    assert rep.totals == ref.totals
    assert {p["path"]: p["rows"] for p in rep.manifest["partitions"]} == \
        {p["path"]: p["rows"] for p in ref.manifest["partitions"]}
    assert all(len(p["files"]) == 1 for p in rep.manifest["partitions"])
    key = lambda r: r["event_id"]    # noqa: E731
    assert sorted(_read_rows(tmp_path / "small"), key=key) == sorted(_read_rows(tmp_path / "ref"), key=key)


def test_cli_size_options(data, tmp_path):
    out = tmp_path / "lake"
    r = _cli("convert", data["valid"], "-o", out, "--schema", data["schema"], "--row-group-bytes", "100KiB",
             "--file-bytes", "0.3MB", "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["options"]["row_group_bytes"] == 102400 and m["options"]["file_bytes"] == 300000
    assert len(m["partitions"][0]["files"]) > 1


# ---------------------------------------------------------------------------
# inputs

def test_compressed_inputs_directories_globs_and_stdin(data, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    raw = gen.generate_ndjson(600, seed=3, dup_rate=0.1)
    for suffix in ("ndjson", "ndjson.gz", "ndjson.zst", "ndjson.lz4"):
        gen.write_ndjson(d / f"e.{suffix}", 600, seed=3, dup_rate=0.1)
    ref = convert([d / "e.ndjson"], tmp_path / "ref", schema=SCHEMA, dedup_key="event_id")
    everything = convert([d], tmp_path / "dir", schema=SCHEMA, dedup_key="event_id")
    globbed = convert([str(d / "e.*")], tmp_path / "glob", schema=SCHEMA, dedup_key="event_id")
    for rep in (everything, globbed):
        assert len(rep.manifest["inputs"]) == 4
        assert rep.totals["written"] == ref.totals["written"]          # the same events 4 times
        assert rep.totals["duplicates"] == 4 * 600 - ref.totals["written"]
    r = _cli("convert", "-", "-o", tmp_path / "stdin", "--schema", data["schema"], "--dedup-key", "event_id",
             "--quiet", input=raw.decode())
    assert r.returncode == 0, r.stderr
    assert _files(tmp_path / "stdin")["part-00000.parquet"] == _files(tmp_path / "ref")["part-00000.parquet"]
    # compressed stdin
    r = subprocess.run([sys.executable, "-m", "eventbatch", "convert", "-", "-o", str(tmp_path / "stdin_gz"),
                        "--schema", str(data["schema"]), "--dedup-key", "event_id", "--json"],
                       input=(d / "e.ndjson.gz").read_bytes(), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["inputs"][0]["path"] == "<stdin>" and m["totals"]["written"] == ref.totals["written"]
    assert _files(tmp_path / "stdin_gz")["part-00000.parquet"] == _files(tmp_path / "ref")["part-00000.parquet"]


def test_infer_and_dedup_window(data, tmp_path):
    rep = convert([data["valid"]], tmp_path / "inf", infer=True, dedup_key="event_id")
    assert rep.balanced and rep.totals["duplicates"] > 0
    exact = convert([data["valid"]], tmp_path / "exact", schema=SCHEMA, dedup_key="event_id")
    small = convert([data["valid"]], tmp_path / "win", schema=SCHEMA, dedup_key="event_id", dedup_window=50)
    assert small.balanced
    assert small.totals["duplicates"] <= exact.totals["duplicates"]
    assert rep.totals["written"] == exact.totals["written"]
    # the window remembers at most its keys (bounded memory); exact mode remembers every key
    d = small.manifest["dedup"]
    assert d["mode"] == "window" and d["keys"] <= 50 and d["evicted"] > 3000
    assert d["memory_bytes"] == eb.Window(max_keys=50).memory_bytes
    d = exact.manifest["dedup"]
    assert d["mode"] == "exact" and d["keys"] == d["unique"] == exact.totals["written"] and d["evicted"] == 0


# ---------------------------------------------------------------------------
# idempotence

def test_rerun_is_byte_identical_and_replaces_the_previous_result(data, tmp_path):
    out = tmp_path / "lake"
    kw = dict(schema=SCHEMA, dedup_key="event_id", time_field="client_ts", partition_by=PARTS,
              row_group_rows=500, file_rows=1000)
    convert([data["messy"]], out, **kw)
    first = _files(out)
    assert any(k.startswith("_rejected") for k in first) and "_manifest.json" in first
    convert([data["messy"]], out, threads=1, **kw)
    assert _files(out) == first
    # another layout into the same directory: no file of the old one is left
    convert([data["messy"]], out, schema=SCHEMA, dedup_key="event_id")
    after = _files(out)
    assert not any(k.startswith("event_type=") for k in after)
    assert sorted(os.listdir(out)) == ["_manifest.json", "_rejected", "part-00000.parquet"]
    convert([data["messy"]], out, **kw)
    assert _files(out) == first


def test_killed_run_leaves_nothing_visible_and_a_rerun_completes_it(data, tmp_path):
    ins = []
    for i in range(6):
        p = tmp_path / f"in{i}.ndjson"
        gen.write_ndjson(p, 400, seed=100 + i, dup_rate=0.05, malformed_rate=0.01)
        ins.append(p)
    args = ["convert", *ins, "--schema", data["schema"], "--dedup-key", "event_id",
            "--time-field", "client_ts", "--partition-by", PARTS, "--row-group-rows", "100", "-q"]
    clean = tmp_path / "clean"
    r = _cli(*args, "-o", clean)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "lake"
    e = dict(os.environ, EVENTBATCH_CONVERT_TEST_SLEEP="0.5")
    proc = subprocess.Popen([sys.executable, "-m", "eventbatch", *map(str, args), "-o", str(out)], env=e,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not glob.glob(str(out / ".eventbatch-tmp" / "**" / "*.parquet"), recursive=True):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _files(out) == {}                      # no partial file visible
    r = _cli(*args, "-o", out)
    assert r.returncode == 0, r.stderr
    assert _files(out) == _files(clean)
    assert not os.path.exists(out / ".eventbatch-tmp")


# ---------------------------------------------------------------------------
# frame files

def test_frame_files_from_filesink_convert(tmp_path):
    sink = eb.FileSink(tmp_path / "frames", fsync=False)
    dicts = gen.generate_dicts(900, seed=4, dup_rate=0.05)
    schema = gen.event_schema()
    pid = uuid.UUID(int=7)
    frames = []
    for seq, lo in enumerate(range(0, 900, 100)):
        batch = pa.RecordBatch.from_pylist(dicts[lo:lo + 100], schema=schema)
        frames.append(eb.encode_frame(batch, producer_id=pid, seq=seq if seq < 5 else seq + 2))
    sink.write(frames)
    sink.close()
    [ebf] = sink.files
    sink2 = eb.FileSink(tmp_path / "frames", fsync=False, prefix="frames-z")      # the stream runs on in a second file
    sink2.write([eb.encode_frame(pa.RecordBatch.from_pylist(dicts[:10], schema=schema), producer_id=pid,
                                 seq=12)])
    sink2.close()
    rep = convert([ebf], tmp_path / "lake", dedup_key="event_id", time_field="client_ts",
                  partition_by="event_type")
    ids = {}
    for d in dicts:
        ids.setdefault(d["event_id"], d)
    assert rep.balanced and rep.totals["written"] == len(ids)
    assert {r["event_id"] for r in _read_rows(tmp_path / "lake")} == set(ids)
    # with a schema, frames and NDJSON mix
    nd = tmp_path / "more.ndjson"
    gen.write_ndjson(nd, 100, seed=99)
    rep2 = convert([ebf, nd], tmp_path / "mixed", schema=SCHEMA, dedup_key="event_id")
    assert rep2.totals["written"] == len(ids) + 100
    r = _cli("inspect", ebf, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["frames"] == 9 and info["rows"] == 900
    [s] = info["streams"]
    assert (s["seq_min"], s["seq_max"], s["gaps"]) == (0, 10, [[5, 6]])
    r = _cli("inspect", tmp_path / "frames", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["files"] == 2 and info["frames"] == 10
    [s] = info["streams"]
    assert (s["seq_min"], s["seq_max"], s["gaps"]) == (0, 12, [[5, 6], [11, 11]])
    r = _cli("convert", tmp_path / "frames", "-o", tmp_path / "fromdir", "--dedup-key", "event_id", "-q")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "fromdir" / "_manifest.json").read_text())["totals"]["written"] == len(ids)


# ---------------------------------------------------------------------------
# CLI

def test_cli_convert_summary_json_and_inspect(data, tmp_path):
    out = tmp_path / "lake"
    r = _cli("convert", data["messy"], "-o", out, "--schema", data["schema"], "--dedup-key", "event_id",
             "--time-field", "client_ts", "--partition-by", PARTS, "--compression", "snappy", "--threads", "2")
    assert r.returncode == 0, r.stderr
    assert "balanced" in r.stdout and "duplicates" in r.stdout
    assert r.stderr == ""                                # no progress bar when not a TTY
    r = _cli("convert", data["messy"], "-o", out, "--schema", data["schema"], "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["reconciliation"]["balanced"]
    r = _cli("convert", data["messy"], "-o", out, "--schema", data["schema"], "-q")
    assert r.returncode == 0 and r.stdout == ""
    r = _cli("inspect", out, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["rows"] > 0 and info["rejected"]["rows"] > 0
    r = _cli("inspect", data["valid"])
    assert r.returncode == 0 and "lines: 4,000" in r.stdout and "event_id: string" in r.stdout


def test_cli_gen_dup_window_and_malformed(tmp_path):
    p = tmp_path / "g.ndjson"
    r = _cli("gen", "500", "-o", p, "--dup", "0.1", "--dup-window", "5", "--malformed", "0.02", "-q")
    assert r.returncode == 0, r.stderr
    assert p.read_bytes() == gen.generate_ndjson(500, seed=0, dup_rate=0.1, dup_window=5, malformed_rate=0.02)


@pytest.mark.parametrize("case,code,needle", [
    ("missing", 1, "input not found"),
    ("bad_schema", 1, "bad schema"),
    ("missing_schema", 1, "cannot read schema"),
    ("unwritable", 1, "cannot write to output"),
    ("bad_partition_syntax", 2, "--partition-by"),
    ("bad_partition_column", 2, "no column `nosuch`"),
    ("date_without_time", 2, "needs a time field"),
    ("bad_time_unit", 2, "--time-unit"),
    ("no_schema", 2, "needs a schema"),
    ("no_args", 2, "required"),
    ("bad_threads", 2, "--threads"),
    ("bad_compression", 2, "--compression"),
    ("bad_size", 2, "--row-group-bytes"),
    ("truncated_gz", 1, "cannot read input"),
    ("corrupt_zst", 1, "cannot read input"),
    ("truncated_zst", 1, "truncated zstd stream"),
    ("bad_time_type", 2, "time field `payload`"),
    ("window_without_key", 2, "dedup_window needs dedup_key"),
    ("bad_file_size", 2, "--file-bytes"),
])
def test_cli_error_paths(data, tmp_path, case, code, needle):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    afile = tmp_path / "afile"
    afile.write_text("x")
    base = [data["valid"], "-o", tmp_path / "out"]
    schema = ["--schema", data["schema"]]
    truncated = tmp_path / "cut.ndjson.gz"
    truncated.write_bytes(data["messy"].read_bytes()[:20000])
    corrupt = tmp_path / "bad.ndjson.zst"
    if case in ("corrupt_zst", "truncated_zst"):
        pytest.importorskip("zstandard")
        gen.write_ndjson(corrupt, 2000, seed=1)
        z = bytearray(corrupt.read_bytes())
        z[len(z) // 2:len(z) // 2 + 64] = bytes(64)
        corrupt.write_bytes(bytes(z))
    cut_zst = tmp_path / "cut.ndjson.zst"
    if case == "truncated_zst":
        gen.write_ndjson(cut_zst, 2000, seed=1)
        cut_zst.write_bytes(cut_zst.read_bytes()[:-100])   # cut inside the last frame
    args = {
        "missing": ["convert", tmp_path / "nope.ndjson", "-o", tmp_path / "out", *schema],
        "bad_schema": ["convert", *base, "--schema", bad],
        "missing_schema": ["convert", *base, "--schema", tmp_path / "nope.json"],
        "unwritable": ["convert", data["valid"], "-o", afile / "out", *schema],
        "bad_partition_syntax": ["convert", *base, *schema, "--partition-by", "a,,b"],
        "bad_partition_column": ["convert", *base, *schema, "--partition-by", "nosuch"],
        "date_without_time": ["convert", *base, *schema, "--partition-by", "date"],
        "bad_time_unit": ["convert", *base, *schema, "--time-unit", "h"],
        "no_schema": ["convert", *base],
        "no_args": ["convert"],
        "bad_threads": ["convert", *base, *schema, "--threads", "0"],
        "bad_compression": ["convert", *base, *schema, "--compression", "gzip9"],
        "bad_size": ["convert", *base, *schema, "--row-group-bytes", "lots"],
        "truncated_gz": ["convert", truncated, "-o", tmp_path / "out", *schema],
        "corrupt_zst": ["convert", corrupt, "-o", tmp_path / "out", *schema],
        "truncated_zst": ["convert", cut_zst, "-o", tmp_path / "out", *schema],
        "bad_time_type": ["convert", *base, *schema, "--time-field", "payload", "--partition-by", "date"],
        "window_without_key": ["convert", *base, *schema, "--dedup-window", "10"],
        "bad_file_size": ["convert", *base, *schema, "--file-bytes", "0"],
    }[case]
    r = _cli(*args)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert not os.path.exists(tmp_path / "out" / "_manifest.json")


def test_python_errors():
    with pytest.raises(ConvertError):
        convert(["/nonexistent/x.ndjson"], "/tmp/never", schema=SCHEMA)
    with pytest.raises(ConvertUsageError):
        convert([__file__], "/tmp/never", schema=SCHEMA, time_unit="h")


def test_ctrl_c_exits_130_and_leaves_nothing(data, tmp_path):
    ins = []
    for i in range(4):
        p = tmp_path / f"in{i}.ndjson"
        gen.write_ndjson(p, 200, seed=200 + i)
        ins.append(p)
    out = tmp_path / "lake"
    e = dict(os.environ, EVENTBATCH_CONVERT_TEST_SLEEP="0.5")
    proc = subprocess.Popen([sys.executable, "-m", "eventbatch", "convert", *map(str, ins), "-o", str(out),
                             "--schema", str(data["schema"]), "--row-group-rows", "50"],
                            env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not glob.glob(str(out / ".eventbatch-tmp" / "*.parquet")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert os.listdir(out) == []                          # temp dir removed, nothing visible


def test_progress_bar_only_on_a_tty(data, tmp_path):
    import pty
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "eventbatch", "convert", str(data["valid"]), "-o",
                             str(tmp_path / "lake"), "--schema", str(data["schema"])],
                            stdout=subprocess.PIPE, stderr=follower,
                            env=dict(os.environ, EVENTBATCH_CONVERT_TEST_SLEEP="0.3"))
    os.close(follower)
    chunks = []
    while True:
        try:
            b = os.read(leader, 4096)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    proc.wait(30)
    os.close(leader)
    err = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "events/s" in err and "ETA" in err and "MB" in err
    assert "balanced" in proc.stdout.read().decode()


def test_rfc3339_strings_with_offsets(tmp_path):
    schema = eb.Schema.from_arrow(pa.schema([("id", pa.string()), ("t", pa.string())]))
    src = tmp_path / "in.ndjson"
    src.write_text('{"id": "a", "t": "2024-01-02T03:04:05Z"}\n{"id": "b", "t": "2024-01-02T00:30:00-01:00"}\n')
    rep = convert([src], tmp_path / "lake", schema=schema, time_field="t", partition_by="date,hour")
    assert rep.totals["written"] == 2
    assert [p["path"] for p in rep.manifest["partitions"]] == ["date=2024-01-02/hour=03",
                                                               "date=2024-01-02/hour=01"]


def test_inspect_error_paths_and_text(data, tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_text("not json\n")
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(data["messy"].read_bytes()[:5000])
    for path in (tmp_path / "nope", junk, cut):
        r = _cli("inspect", path)
        assert r.returncode == 1 and "Traceback" not in r.stderr and "error" in r.stderr
    out = tmp_path / "lake"
    convert([data["messy"]], out, schema=SCHEMA, dedup_key="event_id", time_field="client_ts",
            partition_by="event_type")
    r = _cli("inspect", out)
    assert r.returncode == 0, r.stderr
    assert "parquet dataset" in r.stdout and "event_type=play" in r.stdout
    assert "rejected:" in r.stdout and "balanced" in r.stdout


@pytest.mark.parametrize("codec,expected", [("zstd", "ZSTD"), ("snappy", "SNAPPY"), ("lz4", "LZ4"),
                                            ("none", "UNCOMPRESSED")])
def test_compression_codecs_dictionary_and_statistics(data, tmp_path, codec, expected):
    out = tmp_path / codec
    convert([data["valid"]], out, schema=SCHEMA, compression=codec)
    md = pq.ParquetFile(out / "part-00000.parquet").metadata
    names = [md.schema.column(i).path for i in range(md.num_columns)]
    et = md.row_group(0).column(names.index("event_type"))
    assert et.compression.startswith(expected)
    assert "RLE_DICTIONARY" in et.encodings or "PLAIN_DICTIONARY" in et.encodings   # few distinct values
    assert et.statistics.has_min_max and et.statistics.null_count == 0


def test_killed_during_the_rename_phase_then_rerun(data, tmp_path):
    args = ["convert", data["messy"], "--schema", data["schema"], "--dedup-key", "event_id",
            "--time-field", "client_ts", "--partition-by", PARTS, "-q"]
    clean = tmp_path / "clean"
    assert _cli(*args, "-o", clean).returncode == 0
    out = tmp_path / "lake"
    assert _cli("convert", data["messy"], "--schema", data["schema"], "-o", out, "-q").returncode == 0
    e = dict(os.environ, EVENTBATCH_CONVERT_TEST_SLEEP_COMMIT="0.2")
    proc = subprocess.Popen([sys.executable, "-m", "eventbatch", *map(str, args), "-o", str(out)], env=e)
    try:
        deadline = time.monotonic() + 30
        while not glob.glob(str(out / "event_type=*" / "date=*" / "hour=*" / "*.parquet")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not (out / "_manifest.json").exists()         # visibly unfinished
    for p in glob.glob(str(out / "**" / "*.parquet"), recursive=True):
        if ".eventbatch-tmp" not in p:
            pq.ParquetFile(p).metadata                   # every visible file is whole
    assert _cli(*args, "-o", out).returncode == 0
    assert _files(out) == _files(clean)


def test_date_labels_are_proleptic_gregorian():
    import datetime as dt

    from eventbatch.convert import _date_label
    epoch = dt.date(1970, 1, 1)
    for day in list(range(-719162, -719162 + 800)) + list(range(-1000, 1000)) + list(range(2932896 - 800, 2932897)) \
            + list(range(-719162, 2932897, 9973)):
        assert _date_label(day) == (epoch + dt.timedelta(days=day)).isoformat()
    assert _date_label(-719528) == "0000-01-01" and _date_label(-719163) == "0000-12-31"
    assert _date_label(-719528 + 59) == "0000-02-29"          # year 0 is a leap year


LONG = "k" * 250                      # `kind=` + 250 bytes: 255, the longest that fits
TOO_LONG = "k" * 251
LONG_LINES = [
    b'{"id": "a", "kind": "play", "t": 1704164645000}',                  # 1 ok
    b'{"id": "b", "kind": "%s", "t": 1704164645000}' % TOO_LONG.encode(),  # 2 directory name too long
    b'{"id": "c", "kind": "%s", "t": 1704164645000}' % LONG.encode(),      # 3 ok: exactly 255 bytes
    b'{"id": "d", "kind": "%s", "t": 300000000000000000}' % TOO_LONG.encode(),  # 4 time first
    b'{"id": "e", "kind": "%s", "t": 1704164645000}\r' % ("\u00e9" * 42).encode(),  # 5 %C3%A9 x 42 > 255
    b'{"id": "f", "kind": null, "t": 1704164645000}',                    # 6 ok: the null partition
    b'{"id": "g", "kind": "a/../b", "t": 1704164645000}',                # 7 ok: quoted, no traversal
]


@pytest.mark.parametrize("threads,block_size", [(1, 4 << 20), (2, 64), (2, 4 << 20)])
def test_partition_values_too_long_for_a_directory_are_rejected_rows(tmp_path, threads, block_size):
    """One event whose partition directory name would pass NAME_MAX must not
    stop the run: it becomes a rejected row with its raw line, line number
    and byte offset, and the reconciliation balances."""
    schema = eb.Schema.from_arrow(pa.schema([("id", pa.string()), ("kind", pa.string()), ("t", pa.int64())]))
    data = b"\n".join(LONG_LINES * 2) + b"\n"
    src = tmp_path / "in.ndjson"
    src.write_bytes(data)
    out = tmp_path / "lake"
    rep = convert([src], out, schema=schema, time_field="t", partition_by="kind,date", threads=threads,
                  block_size=block_size)
    assert rep.balanced and rep.totals["written"] == 4 * 2 and rep.totals["rejected"] == 3 * 2
    offs = [0]
    for line in data.split(b"\n")[:-1]:
        offs.append(offs[-1] + len(line) + 1)
    rej = pq.read_table(out / "_rejected" / "part-00000.parquet").to_pylist()
    got = [(r["line"], r["reason"], r["path"]) for r in rej]
    want = [(k + 7 * i, reason, path) for i in range(2) for k, reason, path in [
        (2, "invalid_value", "$.kind"), (4, "out_of_range", "$.t"), (5, "invalid_value", "$.kind")]]
    assert got == want
    for r in rej:
        assert r["raw"] == data.split(b"\n")[r["line"] - 1].rstrip(b"\r")
        assert r["offset"] == offs[r["line"] - 1] and r["source"] == str(src)
    assert rej[0]["message"] == ("expected a partition value whose directory name `kind=...` fits in "
                                 "255 bytes, got 256 bytes at `$.kind`")
    t = ds.dataset(str(out), format="parquet", partitioning="hive").to_table()
    assert sorted(t.column("id").to_pylist()) == sorted(["a", "c", "f", "g"] * 2)
    assert all(len(part) <= 255 for p in rep.manifest["partitions"] for part in p["path"].split("/"))


def test_partition_values_too_long_from_frames(tmp_path):
    schema = pa.schema([("id", pa.string()), ("kind", pa.string()), ("t", pa.int64())])
    batch = pa.RecordBatch.from_pylist([{"id": "a", "kind": "x", "t": 0},
                                        {"id": "b", "kind": TOO_LONG, "t": 0},
                                        {"id": "c", "kind": "x", "t": 2 ** 62}], schema=schema)
    sink = eb.FileSink(tmp_path / "frames", fsync=False)
    sink.write([eb.encode_frame(batch, producer_id=uuid.UUID(int=1), seq=0)])
    sink.close()
    rep = convert(sink.files, tmp_path / "lake", time_field="t", partition_by="kind,hour")
    assert rep.balanced and rep.totals["written"] == 1 and rep.totals["rejected"] == 2
    rej = pq.read_table(tmp_path / "lake" / "_rejected" / "part-00000.parquet").to_pylist()
    assert [(r["line"], r["offset"], r["reason"], r["path"]) for r in rej] == [
        (None, 1, "invalid_value", "$.kind"), (None, 2, "out_of_range", "$.t")]
    assert json.loads(rej[0]["raw"]) == {"id": "b", "kind": TOO_LONG, "t": 0}
    assert json.loads(rej[1]["raw"]) == {"id": "c", "kind": "x", "t": 2 ** 62}
