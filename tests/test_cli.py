"""The command line: demo, gen, schema; exit codes and messages."""

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq

import eventbatch as eb


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "eventbatch", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_demo_runs_end_to_end(tmp_path):
    p = run("demo", "--count", "3000", "-o", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert "counters balance" in p.stdout
    t = pq.read_table(tmp_path / "events.parquet")
    rej = pq.read_table(tmp_path / "rejected.parquet")
    assert t.num_rows + rej.num_rows == 3000
    assert rej.num_rows > 0 and set(rej.column("reason").to_pylist()) <= {r.code for r in eb.Reason}


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
