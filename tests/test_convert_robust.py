"""Adversarial inputs for ``eventbatch convert`` / ``inspect``: each gives a
clean result with balanced counts, or a one-line error with the documented
exit code (1 input error, 2 usage), never a traceback."""

import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import eventbatch as eb
from eventbatch.cli import main

SCHEMA = pa.schema([("id", pa.string()), ("t", pa.int64()), ("kind", pa.string()),
                    ("s", pa.struct([("x", pa.int64())])), ("l", pa.list_(pa.int64())),
                    ("flag", pa.bool_()), ("ts", pa.timestamp("us", "UTC")), ("tsn", pa.timestamp("ns"))])


def _write(path, lines):
    path.write_bytes(b"".join((ln if isinstance(ln, bytes) else json.dumps(ln).encode()) + b"\n"
                              for ln in lines))
    return path


def _schema_file(tmp_path):
    p = tmp_path / "schema.json"
    eb.Schema.from_arrow(SCHEMA).save(str(p))
    return str(p)


def _cli(capsys, *args):
    """(exit code, stdout, stderr) of the CLI in process; a traceback fails the test."""
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def _rows_on_disk(out):
    return ds.dataset(str(out), format="parquet", partitioning="hive").count_rows()


@pytest.mark.parametrize("threads", [1, 2])
def test_partition_by_timestamps_python_cannot_hold(tmp_path, capsys, threads):
    """A timestamp[ns] value that is not a whole microsecond, and a year-0
    timestamp (the core takes years 0000..9999, datetime starts at 1), have no
    datetime: their partition is named by Arrow's text of the value instead
    of the run stopping on a ValueError / OverflowError."""
    src = _write(tmp_path / "in.ndjson", [
        {"id": "a", "tsn": 1}, {"id": "b", "tsn": 1000}, {"id": "c", "tsn": 1},
        {"id": "d", "ts": "0000-06-01T00:00:00Z"}, {"id": "e", "ts": "2020-01-01T00:00:00Z"}])
    for col in ("tsn", "ts"):
        out = tmp_path / f"out-{col}"
        rc, stdout, _ = _cli(capsys, "convert", src, "-o", out, "--schema", _schema_file(tmp_path),
                             "--partition-by", col, "--threads", threads, "--json")
        assert rc == 0
        m = json.loads(stdout)
        assert m["totals"]["written"] == 5 and m["reconciliation"]["balanced"]
        assert _rows_on_disk(out) == 5
    parts = sorted(p["path"] for p in json.loads(stdout)["partitions"])
    assert parts == sorted(["ts=__HIVE_DEFAULT_PARTITION__", "ts=0000-06-01 00:00:00.000000Z",
                            "ts=2020-01-01 00:00:00+00:00"])


@pytest.mark.parametrize("col", ["s", "l", "flag"])
def test_dedup_key_of_a_type_that_cannot_be_hashed_is_a_usage_error(tmp_path, capsys, col):
    src = _write(tmp_path / "in.ndjson", [{"id": "a", "s": {"x": 1}, "l": [1], "flag": True}])
    rc, _, err = _cli(capsys, "convert", src, "-o", tmp_path / "out", "--schema", _schema_file(tmp_path),
                      "--dedup-key", col)
    assert rc == 2
    assert f"cannot deduplicate on `{col}`" in err and len(err.strip().splitlines()) == 1


def test_rejected_frame_row_with_a_time_python_cannot_hold(tmp_path):
    """A frame row rejected (time out of range) while another of its columns
    is a timestamp[ns] that no datetime holds: the rejected row keeps its
    times as integers instead of the run stopping on a ValueError."""
    import uuid
    schema = pa.schema([("id", pa.string()), ("tsn", pa.timestamp("ns")), ("t", pa.int64()),
                        ("s", pa.struct([("d", pa.date32())]))])
    batch = pa.RecordBatch.from_pylist([{"id": "a", "tsn": 1, "t": 0, "s": {"d": 1}},
                                        {"id": "b", "tsn": 1, "t": 2 ** 62, "s": {"d": -719500}}], schema=schema)
    sink = eb.FileSink(tmp_path / "frames", fsync=False)
    sink.write([eb.encode_frame(batch, producer_id=uuid.UUID(int=1), seq=0)])
    sink.close()
    rep = eb.convert(sink.files, tmp_path / "lake", time_field="t", partition_by="hour")
    assert rep.balanced and rep.totals["written"] == 1 and rep.totals["rejected"] == 1
    rej = pq.read_table(tmp_path / "lake" / "_rejected" / "part-00000.parquet").to_pylist()
    assert json.loads(rej[0]["raw"]) == {"id": "b", "tsn": 1, "s": {"d": -719500}, "t": 2 ** 62}


@pytest.mark.parametrize("manifest", [b"{not json", b"[1, 2]", b'{"totals": 5}', b"\xff\xfe",
                                      b'{"reconciliation": {"balanced": true}}'])
def test_inspect_dataset_with_a_damaged_manifest(tmp_path, capsys, manifest):
    """inspect reads _manifest.json for its totals: a damaged one is a
    one-line error (exit 1) or is left out, never a traceback."""
    pq.write_table(pa.table({"a": [1]}), tmp_path / "part-00000.parquet")
    (tmp_path / "_manifest.json").write_bytes(manifest)
    rc, out, err = _cli(capsys, "inspect", tmp_path)
    assert (rc, err) == (0, "") or (rc == 1 and len(err.strip().splitlines()) == 1 and "manifest" in err)


def test_inspect_dataset_with_a_damaged_rejected_file(tmp_path, capsys):
    pq.write_table(pa.table({"a": [1]}), tmp_path / "part-00000.parquet")
    (tmp_path / "_rejected").mkdir()
    (tmp_path / "_rejected" / "part-00000.parquet").write_bytes(b"junk")
    rc, _, err = _cli(capsys, "inspect", tmp_path)
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "_rejected" in err


def test_rerun_into_a_non_empty_directory_keeps_files_that_are_not_ours(tmp_path, capsys):
    """A rerun removes the part files of a previous run that it did not
    produce: only files named as convert names them (part-NNNNN.parquet) at
    the top, in _rejected/ or in partition directories (col=value); a user's
    file that happens to be called part-00000.parquet elsewhere, another
    dataset nested in the output directory, and an empty directory of the
    user's stay."""
    src = _write(tmp_path / "in.ndjson", [{"id": "a", "kind": "x"}, {"id": "b", "kind": "y"}, b"bad"])
    out = tmp_path / "out"
    theirs = ["notes.txt", "keep/part-00000.parquet", "nested/kind=x/part-00000.parquet",
              "part-final.parquet"]
    for rel in theirs:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(b"not ours")
    (out / "empty").mkdir()
    stale = ["kind=old/part-00000.parquet", "kind=x/part-00001.parquet", "part-00000.parquet",
             "_rejected/part-00003.parquet"]
    for rel in stale:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(b"a previous run's")
    rc, _, _ = _cli(capsys, "convert", src, "-o", out, "--schema", _schema_file(tmp_path),
                    "--partition-by", "kind", "-q")
    assert rc == 0
    for rel in theirs:
        assert (out / rel).read_bytes() == b"not ours", rel
    assert (out / "empty").is_dir()
    for rel in stale:
        assert not (out / rel).exists() or (out / rel).read_bytes() != b"a previous run's", rel
    assert not (out / "kind=old").exists()


def test_output_directory_inside_an_input_directory_is_not_read(tmp_path, capsys):
    """`convert logs -o logs/lake`: the second run must not read the first
    run's Parquet files (nor its manifest) as NDJSON input."""
    logs = tmp_path / "logs"
    logs.mkdir()
    _write(logs / "a.ndjson", [{"id": "a", "kind": "x"}, {"id": "b", "kind": "y"}])
    for _ in range(2):
        rc, out, _ = _cli(capsys, "convert", logs, "-o", logs / "lake", "--schema", _schema_file(tmp_path),
                          "--partition-by", "kind", "--json")
        assert rc == 0
        m = json.loads(out)
        assert [i["path"] for i in m["inputs"]] == [str(logs / "a.ndjson")]
        assert m["totals"]["rejected"] == 0 and m["totals"]["written"] == 2


def test_output_directory_that_is_the_input_directory_is_a_usage_error(tmp_path, capsys):
    _write(tmp_path / "a.ndjson", [{"id": "a"}])
    rc, _, err = _cli(capsys, "convert", tmp_path, "-o", tmp_path, "--schema", _schema_file(tmp_path))
    assert rc == 2 and "output directory" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [b"", b"\n\n", b"[1, 2]\n\"s\"\n3\n", "{\"id\": \"a\"}\n".encode("utf-16"),
                                     b"\x00" * 1000],
                         ids=["empty", "blank", "not-objects", "utf-16", "nul"])
def test_infer_from_a_sample_without_events_is_an_input_error(tmp_path, capsys, content):
    """`convert --infer` on a file that holds no JSON object is an input
    error (exit 1), as `eventbatch schema` on the same file is; not a usage error."""
    src = tmp_path / "in.ndjson"
    src.write_bytes(content)
    rc_schema, _, err_schema = _cli(capsys, "schema", src)
    rc, _, err = _cli(capsys, "convert", src, "-o", tmp_path / "out", "--infer")
    assert rc == rc_schema == 1
    assert "cannot infer a schema" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("tz", ["Nowhere/Land", "+25:00", ""])
def test_schema_with_an_unknown_time_zone_is_a_bad_schema(tmp_path, capsys, tz):
    """Arrow takes any tz string in a type and fails only when a value is
    shown (partition names): the schema file is refused when loaded."""
    (tmp_path / "s.json").write_text(json.dumps({"fields": [{"name": "a", "type": f"timestamp[us, tz={tz}]"}]}))
    src = _write(tmp_path / "in.ndjson", [{"a": 1}])
    rc, _, err = _cli(capsys, "convert", src, "-o", tmp_path / "out", "--schema", tmp_path / "s.json",
                      "--partition-by", "a")
    assert rc == 1 and "bad schema" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris", "+05:30", "-08:00"])
def test_schema_with_a_known_time_zone_partitions(tmp_path, capsys, tz):
    (tmp_path / "s.json").write_text(json.dumps({"fields": [{"name": "a", "type": f"timestamp[s, tz={tz}]"}]}))
    src = _write(tmp_path / "in.ndjson", [{"a": 1}, {"a": "2020-01-01T00:00:00Z"}])
    rc, out, _ = _cli(capsys, "convert", src, "-o", tmp_path / "out", "--schema", tmp_path / "s.json",
                      "--partition-by", "a", "--json")
    assert rc == 0 and json.loads(out)["totals"]["written"] == 2


@pytest.mark.parametrize("first", [5000, 999, 1000, 1001, 2500])
def test_infer_sample_past_a_first_line_longer_than_the_sample(tmp_path, first):
    """A first line longer than the sample (16 MiB: convert rejects it as
    line_too_long) left a sample inside one line, and --infer failed on a
    file whose other lines are fine: the sample starts after that line."""
    from eventbatch.convert import infer_sample
    src = tmp_path / "in.ndjson"
    long_line = b'{"id": "' + b"x" * (first - 10) + b'"}'         # `first` bytes
    src.write_bytes(long_line + b"\n" + b'{"id": "a", "n": 1}\n' * 20)
    schema = infer_sample(str(src), max_bytes=1000)
    assert schema.names[:2] == ["id", "n"] if first > 999 else schema.names[0] == "id"


def test_infer_sample_of_one_long_line_is_an_input_error(tmp_path):
    from eventbatch.convert import ConvertError, infer_sample
    src = tmp_path / "in.ndjson"
    src.write_bytes(b'{"id": "' + b"x" * 5000 + b'"}')
    with pytest.raises(ConvertError, match="cannot infer a schema"):
        infer_sample(str(src), max_bytes=1000)
    src.write_bytes(b'{"id": "' + b"x" * 5000 + b'"}\n' + b'{"n": "' + b"y" * 3000 + b'"}\n{"k": 1}\n')
    assert infer_sample(str(src), max_bytes=1000).names == ["k"]


def test_zstd_with_bytes_after_the_last_frame(tmp_path, capsys):
    """Bytes after a complete zstd frame: a one-line input error (exit 1)
    that points at where they start, not at the (complete) frame before."""
    zstandard = pytest.importorskip("zstandard")
    from eventbatch.readers import open_input
    frame = zstandard.ZstdCompressor().compress(b'{"id": "a"}\n' * 3)
    for junk in (b"xx", b"garbage!!", b"\0" * 8):
        with pytest.raises(Exception) as ei:
            open_input(__import__("io").BytesIO(frame + junk)).read()
        assert f"frame that begins at byte 0" not in str(ei.value)
        if len(junk) < 4:
            assert f"inside the frame that begins at byte {len(frame)}" in str(ei.value)
        src = tmp_path / "in.ndjson.zst"
        src.write_bytes(frame + junk)
        rc, _, err = _cli(capsys, "convert", src, "-o", tmp_path / "out", "--schema", _schema_file(tmp_path))
        assert rc == 1 and len(err.strip().splitlines()) == 1


def test_input_directory_follows_symlinked_directories_once(tmp_path, capsys):
    """A symlinked subdirectory of an input directory (logs/2024 -> an
    archive disk) is read, not silently skipped; a symlink loop is walked
    once; the same file reached twice is read once."""
    logs, archive = tmp_path / "logs", tmp_path / "archive"
    logs.mkdir()
    archive.mkdir()
    _write(logs / "a.ndjson", [{"id": "a"}])
    _write(archive / "b.ndjson", [{"id": "b"}])
    os.symlink(archive, logs / "2024")
    os.symlink(logs, logs / "loop")
    os.symlink(archive, logs / "again")
    from eventbatch.convert import resolve_inputs
    paths = resolve_inputs([str(logs)])
    assert sorted(os.path.basename(p) for p in paths) == ["a.ndjson", "b.ndjson"]
    rc, out, _ = _cli(capsys, "convert", logs, "-o", tmp_path / "out", "--schema", _schema_file(tmp_path),
                      "--json")
    assert rc == 0 and json.loads(out)["totals"]["written"] == 2


@pytest.mark.parametrize("manifest", [True, False])
def test_inspect_dataset_whose_partition_column_is_null_everywhere(tmp_path, capsys, manifest):
    """Hive type inference fails on a partition column that is null in every
    partition (`__HIVE_DEFAULT_PARTITION__`): inspect of a dataset convert
    wrote said "not a Parquet dataset"."""
    src = _write(tmp_path / "in.ndjson", [{"id": "a", "t": 1}, {"id": "b"}])
    out = tmp_path / "out"
    rep = eb.convert(str(src), str(out), schema=SCHEMA, partition_by="t,kind")
    assert rep.balanced and len(rep.manifest["partitions"]) == 2
    if not manifest:
        os.unlink(out / "_manifest.json")
    rc, text, err = _cli(capsys, "inspect", out)
    assert rc == 0 and err == ""
    assert "rows: 2 in 2 partition(s)" in text


def test_dedup_window_too_large(tmp_path, capsys):
    """A window above Window's limit is a usage error (exit 2); one whose
    table cannot be allocated is a one-line input error (exit 1), not a
    ValueError / MemoryError traceback, and leaves no temp dir."""
    src = _write(tmp_path / "in.ndjson", [{"id": "a"}])
    rc, _, err = _cli(capsys, "convert", src, "-o", tmp_path / "out", "--schema", _schema_file(tmp_path),
                      "--dedup-key", "id", "--dedup-window", 2 ** 62)
    assert rc == 2 and "dedup_window" in err and len(err.strip().splitlines()) == 1
    rc, _, err = _cli(capsys, "convert", src, "-o", tmp_path / "out2", "--schema", _schema_file(tmp_path),
                      "--dedup-key", "id", "--dedup-window", 2 ** 40)
    assert rc in (0, 1) and len(err.strip().splitlines()) <= 1
    if rc == 1:
        assert "dedup_window" in err and not (tmp_path / "out2" / ".eventbatch-tmp").exists()


def _damaged(kind):
    import gzip
    good = b'{"id": "a", "t": 1}\n' * 2000
    if kind == "gz":
        c = gzip.compress(good)
    elif kind == "zst":
        c = pytest.importorskip("zstandard").ZstdCompressor().compress(good)
    else:
        c = pytest.importorskip("lz4.frame").compress(good)
    return c[:20] + bytes(x ^ 0xFF for x in c[20:40]) + c[40:]     # corrupt near the start


@pytest.mark.parametrize("kind", ["gz", "zst", "lz4"])
@pytest.mark.parametrize("cmd", ["schema", "inspect", "convert --infer", "convert"])
def test_corrupt_compressed_input_is_a_one_line_input_error(tmp_path, capsys, kind, cmd):
    """A compressed input damaged near its start: zlib.error, ZstdError and
    lz4's RuntimeError were tracebacks in some commands."""
    src = tmp_path / f"in.ndjson.{kind}"
    src.write_bytes(_damaged(kind))
    args = {"schema": ["schema", src], "inspect": ["inspect", src],
            "convert --infer": ["convert", src, "-o", tmp_path / "out", "--infer"],
            "convert": ["convert", src, "-o", tmp_path / "out", "--schema", _schema_file(tmp_path)]}[cmd]
    rc, _, err = _cli(capsys, *args)
    assert rc == 1 and len(err.strip().splitlines()) == 1, err


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE")
def test_many_partitions_under_a_low_open_file_limit(tmp_path):
    """macOS's default soft limit is 256 open files, below the default 256
    open writers plus inputs and pool: the writers are capped by the limit
    instead of the run stopping on EMFILE (Too many open files)."""
    src = _write(tmp_path / "in.ndjson", [{"id": str(i), "kind": f"k{i % 300}"} for i in range(900)])
    code = ("import resource, sys\nfrom eventbatch.cli import main\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
            "sys.exit(main(sys.argv[1:]))\n")
    p = subprocess.run([sys.executable, "-c", code, "convert", str(src), "-o", str(tmp_path / "out"),
                        "--schema", _schema_file(tmp_path), "--partition-by", "kind", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    m = json.loads(p.stdout)
    assert m["totals"]["written"] == 900 and len(m["partitions"]) == 300
    assert _rows_on_disk(tmp_path / "out") == 900
