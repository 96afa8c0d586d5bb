"""``eventbatch bench``: the report and its JSON, correctness flags that really
compare outputs, skipped peers, the user's own input, errors, the regression check.

The suite runs for real (one worker process per row) on a few thousand
events.  Two test hooks of the worker are used (see eventbatch.bench.worker):
``_EVENTBATCH_BENCH_HIDE`` makes an import fail as if the module were not
installed, ``_EVENTBATCH_BENCH_SABOTAGE`` corrupts one row's output before
its checksum.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import subprocess
import sys

import pytest

from eventbatch import gen
from eventbatch.bench import SCENARIOS

ROOT = pathlib.Path(__file__).resolve().parents[1]


def bench(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.pop("_EVENTBATCH_BENCH_HIDE", None)
    full_env.pop("_EVENTBATCH_BENCH_SABOTAGE", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "eventbatch", "bench", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def row(doc: dict, scenario: str, library: str, threads: int | None = 1) -> dict:
    lib = next(x for x in SCENARIOS[scenario].libraries if x.name == library)
    want = threads if lib.thread_knob else None
    found = [r for r in doc["results"] if r["scenario"] == scenario and r["library"] == library
             and r.get("threads") == want]
    assert len(found) == 1, (scenario, library, threads, found)
    return found[0]


SABOTAGE = "ndjson/pyarrow=alter,dedup/polars=drop,hash/xxhash=alter,dicts/polars=alter"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The whole suite, --quick on 3,000 events, duckdb hidden, four peers sabotaged."""
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    p = bench("--quick", "--events", "3000", "--json", str(out),
              env={"_EVENTBATCH_BENCH_HIDE": "duckdb", "_EVENTBATCH_BENCH_SABOTAGE": SABOTAGE})
    assert p.returncode == 0, p.stderr[-3000:]
    return p, json.loads(out.read_text()), out


def test_report_and_json_structure(quick):
    p, doc, _ = quick
    header = next(line for line in p.stdout.splitlines() if line.startswith("| scenario"))
    for col in ("library", "threads", "events/s", "MB/s", "vs eventbatch", "peak RSS MiB", "correct"):
        assert col in header
    assert "Traceback" not in p.stdout + p.stderr
    meta = doc["meta"]
    m = meta["machine"]
    assert m["logical_cpus"] >= 1 and m["usable_cpus"] >= 1 and m["cpu"] and m["platform"] and m["python"]
    assert meta["versions"]["eventbatch"]["version"]
    libs = meta["versions"]["libraries"]
    assert libs["pyarrow"]["installed"] and libs["pyarrow"]["version"]
    assert libs["duckdb"]["installed"] is False            # hidden: the import really failed
    assert meta["input"]["events"] == 3000 and meta["input"]["key"] == "event_id"
    assert meta["config"] == {**meta["config"], "warmup": 1, "repeat": 3, "quick": True}
    assert {r["scenario"] for r in doc["results"]} == set(SCENARIOS)
    measured = [r for r in doc["results"] if r["status"] == "ok"]
    assert len(measured) >= 12
    for r in measured:
        assert len(r["wall_s"]) == 3 and r["min_s"] <= r["median_s"] <= r["max_s"]
        assert r["events_per_s"] == pytest.approx(3000 / r["median_s"])
        assert r["mb_per_s"] > 0 and r["peak_rss_bytes"] > 10 << 20
        assert r["correct"] in ("ok", "ref", "MISMATCH")
        assert set(r["output"]) == {"rows", "checksum"}
        if r["scenario"] != "producer":
            assert r["ratio_to_eventbatch"] > 0
    for sc in ("ndjson", "dicts", "hash", "dedup", "convert"):
        ref = row(doc, sc, "eventbatch")
        assert ref["correct"] == "ref" and ref["ratio_to_eventbatch"] == 1.0
    # the eventbatch outputs of one input agree across scenarios: all events, or the unique ones
    assert row(doc, "ndjson", "eventbatch")["output"] == row(doc, "dicts", "eventbatch")["output"]
    unique = row(doc, "dedup", "eventbatch")["output"]
    assert unique["rows"] == len({d["event_id"] for d in gen.generate_dicts(3000, seed=1, dup_rate=0.02)})
    assert row(doc, "convert", "eventbatch")["output"] == unique


def test_missing_peer_is_skipped_with_its_pip_line(quick):
    p, doc, _ = quick
    skipped = [r for r in doc["results"] if r["library"] == "duckdb"]
    assert {r["scenario"] for r in skipped} == {"ndjson", "dedup", "convert"}
    for r in skipped:
        assert r["status"] == "skipped" and r["pip"] == "pip install duckdb" and r["correct"] == "n/a"
        assert "duckdb is not installed" in r["reason"]
    assert "skipped: pip install duckdb" in p.stdout


def test_correctness_flag_compares_outputs(quick):
    p, doc, _ = quick
    # same row count, one row's values changed: only the checksum can tell
    for sc, lib in (("ndjson", "pyarrow"), ("dicts", "polars"), ("hash", "xxhash")):
        r = row(doc, sc, lib)
        assert r["correct"] == "MISMATCH", r
        assert r["output"]["rows"] == row(doc, sc, "eventbatch")["output"]["rows"]
        assert "different values" in r["correct_detail"]
    # a dropped row
    r = row(doc, "dedup", "polars")
    assert r["correct"] == "MISMATCH" and r["output"]["rows"] == unique_rows(doc) - 1
    # the same libraries are ok where they were not sabotaged
    for sc, lib in (("ndjson", "polars"), ("ndjson", "orjson+pyarrow"), ("dicts", "pyarrow"),
                    ("convert", "polars"), ("convert", "eventbatch")):
        assert row(doc, sc, lib)["correct"] in ("ok", "ref"), row(doc, sc, lib)
    assert p.stdout.count("MISMATCH") >= 4


def unique_rows(doc: dict) -> int:
    return row(doc, "dedup", "eventbatch")["output"]["rows"]


def test_producer_latency_and_expected_output(quick):
    _, doc, _ = quick
    for lib in ("eventbatch dicts", "eventbatch ndjson"):
        r = row(doc, "producer", lib)
        m = r["metrics"]
        assert m["frames"] >= 3 and 0 < m["latency_ms_p50"] <= m["latency_ms_p99"] <= m["latency_ms_max"]
        assert r["expected"] == r["output"] and r["correct"] == "ok"
        assert r["output"]["rows"] == unique_rows(doc)


def test_own_input_schema_and_threads(tmp_path):
    data = tmp_path / "mine.ndjson.gz"
    gen.write_ndjson(data, 1500, seed=5, dup_rate=0.05)
    schema = tmp_path / "mine.schema.json"
    import eventbatch as eb
    eb.Schema.from_arrow(gen.event_schema()).save(schema)
    out = tmp_path / "mine.json"
    p = bench("--input", str(data), "--schema", str(schema), "--scenarios", "ndjson,dedup",
              "--threads", "1,2", "--repeat", "1", "--json", str(out), "--markdown")
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads(out.read_text())
    src = doc["meta"]["input"]["source"]
    assert src["kind"] == "file" and src["path"] == str(data) and doc["meta"]["input"]["events"] == 1500
    assert {r["scenario"] for r in doc["results"]} == {"ndjson", "dedup"}
    # a library with a thread setting runs at 1 and 2 threads, one without runs once
    assert row(doc, "ndjson", "pyarrow", 1)["correct"] == "ok"          # not sabotaged here: ok
    assert row(doc, "ndjson", "pyarrow", 2)["correct"] == "ok"
    assert row(doc, "ndjson", "eventbatch", 2)["correct"] == "ok"       # checked against threads=1
    assert row(doc, "ndjson", "eventbatch", 2)["ratio_to_eventbatch"] == 1.0
    assert len([r for r in doc["results"] if r["library"] == "orjson+pyarrow"]) == 1
    assert len([r for r in doc["results"] if r["scenario"] == "dedup"]) == 5
    assert p.stdout.startswith("## eventbatch bench") and "| NDJSON -> Arrow" in p.stdout


def test_malformed_line_in_own_input(tmp_path):
    """eventbatch rejects the bad line; pyarrow fails the whole file: an error row, not a crash."""
    data = tmp_path / "bad.ndjson"
    lines = gen.generate_ndjson(400, seed=2).splitlines(keepends=True)
    lines.insert(7, b'{"event_id": "x", "user_id": nope}\n')
    data.write_bytes(b"".join(lines))
    p = bench("--input", str(data), "--scenarios", "ndjson", "--repeat", "1", "--warmup", "0")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Traceback" not in p.stdout + p.stderr
    assert "eventbatch rejected 1 line " in p.stdout
    assert "schema inferred" in p.stderr
    pa_line = next(line for line in p.stdout.splitlines() if "| pyarrow" in line)
    assert "error:" in pa_line and "n/a" in pa_line


@pytest.mark.parametrize("args, code, message", [
    (["--input", "/nonexistent/events.ndjson"], 1, "input file not found: /nonexistent/events.ndjson"),
    (["--threads", "0"], 2, "expected comma-separated positive integers"),
    (["--scenarios", "ndjson,nope"], 2, "unknown scenario nope"),
    (["--schema", "x.json"], 2, "--schema describes --input"),
    (["--quick", "--events", "10", "--dedup-key", "nope", "--scenarios", "hash"], 1, "no column `nope`"),
    (["--from-json", "/nonexistent.json"], 1, "cannot read /nonexistent.json"),
])
def test_user_errors_are_messages_not_tracebacks(args, code, message):
    p = bench(*args, timeout=60)
    assert p.returncode == code, (p.returncode, p.stderr)
    assert message in p.stderr and "Traceback" not in p.stderr


def test_bad_schema_file(tmp_path):
    data = tmp_path / "e.ndjson"
    data.write_bytes(gen.generate_ndjson(10, seed=1))
    bad = tmp_path / "s.json"
    bad.write_text('{"fields": [{"name": "a", "type": "int99"}]}')
    p = bench("--input", str(data), "--schema", str(bad), timeout=60)
    assert p.returncode == 1 and "bad schema" in p.stderr and "Traceback" not in p.stderr


def test_plot_without_matplotlib_fails_before_running(tmp_path):
    p = bench("--quick", "--plot", str(tmp_path / "x.png"), env={"_EVENTBATCH_BENCH_HIDE": "matplotlib"},
              timeout=60)
    assert p.returncode == 1
    assert "pip install 'eventbatch[plot]'" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "x.png").exists() and "generating" not in p.stderr


def test_plot_from_saved_json(quick, tmp_path):
    pytest.importorskip("matplotlib")
    _, _, saved = quick
    png = tmp_path / "chart.png"
    p = bench("--from-json", str(saved), "--plot", str(png), timeout=120)
    assert p.returncode == 0, p.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_regression_check(quick, tmp_path):
    _, doc, saved = quick
    same = bench("--from-json", str(saved), "--baseline", str(saved), timeout=60)
    assert same.returncode == 0 and "0 regression(s)" in same.stdout
    faster = copy.deepcopy(doc)
    target = row(faster, "ndjson", "polars")
    target["events_per_s"] *= 1.25          # the new run is 20% slower than this baseline
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps(faster))
    p = bench("--from-json", str(saved), "--baseline", str(base), "--threshold", "0.15", timeout=60)
    assert p.returncode == 1
    line = next(x for x in p.stdout.splitlines() if "ndjson / polars / threads 1" in x)
    assert "REGRESSION" in line and "-20.0%" in line
    assert "1 regression(s): ndjson / polars / threads 1" in p.stdout
    p = bench("--from-json", str(saved), "--baseline", str(base), "--threshold", "0.25", timeout=60)
    assert p.returncode == 0


def test_regress_script_reads_pytest_benchmark_json(tmp_path):
    def doc(median_a: float, median_b: float) -> dict:
        return {"benchmarks": [
            {"name": "test_a", "fullname": "benches/test_x.py::test_a", "stats": {"median": median_a}},
            {"name": "test_b", "fullname": "benches/test_x.py::test_b", "stats": {"median": median_b}}]}
    base, new = tmp_path / "base.json", tmp_path / "new.json"
    base.write_text(json.dumps(doc(1.0, 1.0)))
    new.write_text(json.dumps(doc(1.05, 1.5)))       # a: 5% slower, b: 33% slower
    script = ROOT / "benches" / "regress.py"
    p = subprocess.run([sys.executable, str(script), str(base), str(new), "--threshold", "0.15"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stderr
    assert "1 regression(s): benches/test_x.py::test_b" in p.stdout
    p = subprocess.run([sys.executable, str(script), str(base), str(base)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and "0 regression(s)" in p.stdout


def test_checksum_canonical_form():
    """Row order, chunking, string layout and the sign of a float zero do not
    change the checksum; a value moved to another row, a null, a lost row do."""
    import doctest
    import io

    import pyarrow as pa

    import eventbatch as eb
    from eventbatch.bench import checksum

    assert doctest.testmod(checksum).failed == 0
    schema = gen.event_schema()
    t = eb.read_ndjson(io.BytesIO(gen.generate_ndjson(300, seed=4)), schema)
    base = checksum.table_checksum(t, schema)
    assert base["rows"] == 300
    assert checksum.table_checksum(t.take(list(range(299, -1, -1))), schema) == base
    relaid = pa.Table.from_batches(t.to_batches(max_chunksize=7)).cast(
        pa.schema([pa.field(f.name, pa.large_string() if f.type == pa.string() else f.type) for f in schema]))
    assert checksum.table_checksum(relaid, schema) == base
    # two rows swap their event_type: every column keeps the same multiset of values
    types = t.column("event_type").to_pylist()
    i = next(k for k in range(1, 300) if types[k] != types[0])
    types[0], types[i] = types[i], types[0]
    swapped = t.set_column(t.schema.get_field_index("event_type"), "event_type", pa.array(types))
    assert checksum.table_checksum(swapped, schema)["checksum"] != base["checksum"]
    country = t.column("country").to_pylist()
    j = next(k for k, v in enumerate(country) if v is not None)
    country[j] = None
    nulled = t.set_column(t.schema.get_field_index("country"), "country", pa.array(country))
    assert checksum.table_checksum(nulled, schema)["checksum"] != base["checksum"]
    assert checksum.table_checksum(t.slice(1), schema)["rows"] == 299
    with pytest.raises(checksum.NotComparable, match="`payload` is missing"):
        checksum.table_checksum(t.drop_columns(["payload"]), schema)
    fs = pa.schema([("x", pa.float64())])
    assert checksum.table_checksum(pa.table({"x": [0.0, 1.5]}), fs) == \
        checksum.table_checksum(pa.table({"x": [-0.0, 1.5]}), fs)
    assert checksum.table_checksum(pa.table({"x": [None, 1.5]}), fs) != \
        checksum.table_checksum(pa.table({"x": [0.0, 1.5]}), fs)
