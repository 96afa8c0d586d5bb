"""The command line: demo, gen, schema; exit codes and messages."""

import json
import os
import subprocess
import sys

import pyarrow.dataset as ds
import pyarrow.parquet as pq

import eventbatch as eb


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "eventbatch", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_demo_runs_end_to_end(tmp_path):
    """Quick start command 1: gen -> convert (dedup, partitions, rejected rows) -> inspect."""
    p = run("demo", "--count", "3000", "-o", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""                                   # no progress bar when not on a terminal
    out = p.stdout
    for step in ("$ eventbatch gen 3000", "$ eventbatch convert", "--dedup-key event_id",
                 "--time-field client_ts --partition-by event_type,date,hour --compression zstd --threads 2",
                 "$ eventbatch inspect"):
        assert step in out
    assert "-> balanced" in out and "parquet dataset:" in out
    lake = tmp_path / "lake"
    m = json.loads((lake / "_manifest.json").read_text())
    t = m["totals"]
    assert m["reconciliation"]["balanced"] and t["lines_read"] == 3000
    assert t["duplicates"] > 0 and t["rejected"] > 0
    assert t["written"] + t["duplicates"] + t["rejected"] == 3000
    rows = ds.dataset(str(lake), format="parquet", partitioning="hive").count_rows()
    assert rows == t["written"]
    assert all(p["path"].startswith("event_type=") and "/date=" in p["path"] and "/hour=" in p["path"]
               for p in m["partitions"])
    rej = pq.read_table(lake / "_rejected" / "part-00000.parquet")
    assert rej.num_rows == t["rejected"]
    assert set(rej.column("reason").to_pylist()) <= {r.code for r in eb.Reason}
    assert "every rejected line is kept" in out


def test_gen_then_schema(tmp_path):
    out = tmp_path / "e.ndjson.gz"
    p = run("gen", "500", "-o", str(out), "--seed", "3", "--dup", "0.1")
    assert p.returncode == 0, p.stderr
    p = run("schema", str(out), "-o", str(tmp_path / "s.json"))
    assert p.returncode == 0, p.stderr
    assert "event_id: string" in p.stdout
    s = eb.Schema.load(tmp_path / "s.json")
    assert "payload" in s.names


def test_errors_are_one_line_with_exit_codes(tmp_path):
    p = run("schema", str(tmp_path / "missing.ndjson"))
    assert p.returncode == 1 and "Traceback" not in p.stderr and "error" in p.stderr
    p = run("frobnicate")
    assert p.returncode == 2


def test_gen_errors_are_usage_errors(tmp_path):
    out = str(tmp_path / "g.ndjson")
    for args, needle in ((["-1"], "integer >= 0"), (["10", "--dup", "1"], "--dup"),
                         (["10", "--dup", "x"], "--dup"), (["10", "--malformed", "-0.5"], "--malformed"),
                         (["10", "--dup-window", "0"], "--dup-window"), (["10", "--seed", "-3"], "--seed")):
        p = run("gen", *args, "-o", out)
        assert p.returncode == 2 and needle in p.stderr and "Traceback" not in p.stderr, (args, p.stderr)
    p = run("gen", "10", "-o", str(tmp_path / "missing" / "g.ndjson"))
    assert p.returncode == 1 and "Traceback" not in p.stderr and "error" in p.stderr
    p = run("gen", "0", "-o", out, "--malformed", "1", "-q")
    assert p.returncode == 0 and p.stderr == ""
