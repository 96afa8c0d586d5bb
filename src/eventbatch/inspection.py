"""``eventbatch inspect``: what a Parquet dataset, a frame file or an NDJSON file holds."""

from __future__ import annotations

import glob
import json
import os
from typing import Any

from .errors import EventBatchError
from .frames import MAGIC as FRAME_MAGIC

__all__ = ["inspect_path"]


_SHOWN = 20     # partitions listed in the text output


class InspectError(EventBatchError):
    """The path cannot be inspected."""


def inspect_path(path: str) -> tuple[dict, str]:
    """(facts as a dict, the same as text) for a dataset directory, a
    Parquet file, a frame file or an NDJSON file (plain or compressed)."""
    if not os.path.exists(path):
        raise InspectError(f"not found: {path}")
    if os.path.isdir(path):
        ebf = sorted(glob.glob(os.path.join(path, "*.ebf")))
        if ebf and not glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True):
            return _frames(ebf)
        return _dataset(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if head == FRAME_MAGIC:
        return _frames([path])
    if head == b"PAR1":
        return _dataset(path)
    return _ndjson(path)


def _dataset(path: str) -> tuple[dict, str]:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from .convert import MANIFEST
    is_dir = os.path.isdir(path)
    manifest = None
    if is_dir and os.path.exists(os.path.join(path, MANIFEST)):
        manifest = _manifest(os.path.join(path, MANIFEST))
    try:
        try:
            dset = ds.dataset(path, format="parquet", partitioning="hive" if is_dir else None)
        except pa.ArrowInvalid:
            # hive type inference fails on a partition column that is null
            # (__HIVE_DEFAULT_PARTITION__) everywhere: read every partition column as a string
            names = _partition_names(path) if is_dir else []
            if not names:
                raise
            dset = ds.dataset(path, format="parquet", partitioning=ds.partitioning(
                pa.schema([(n, pa.string()) for n in names]), flavor="hive"))
    except Exception as e:   # pyarrow raises several kinds
        raise InspectError(f"not a Parquet dataset: {path}: {e}") from e
    partitions: dict[str, dict] = {}
    for frag in dset.get_fragments():
        rel = os.path.relpath(os.path.dirname(frag.path), path) if is_dir else "."
        try:
            md = pq.ParquetFile(frag.path).metadata
        except Exception as e:   # ArrowInvalid and friends: not a Parquet file
            raise InspectError(f"not a Parquet file: {frag.path}: {e}") from e
        p = partitions.setdefault(rel, {"rows": 0, "files": 0, "row_groups": 0, "bytes": 0})
        p["rows"] += md.num_rows
        p["files"] += 1
        p["row_groups"] += md.num_row_groups
        p["bytes"] += os.path.getsize(frag.path)
    rejected = None
    rej_dir = os.path.join(path, "_rejected")
    if is_dir and os.path.isdir(rej_dir):
        try:
            rt = ds.dataset(rej_dir, format="parquet").to_table(columns=["reason"])
        except Exception as e:   # pyarrow raises several kinds
            raise InspectError(f"not a dataset of rejected rows: {rej_dir}: {e}") from e
        by: dict[str, int] = {}
        for r in rt.column("reason").to_pylist():
            by[r] = by.get(r, 0) + 1
        rejected = {"rows": rt.num_rows, "by_reason": dict(sorted(by.items()))}
    info: dict[str, Any] = {
        "kind": "parquet dataset" if is_dir else "parquet file",
        "path": path,
        "schema": [f"{f.name}: {f.type}" for f in dset.schema],
        "rows": sum(p["rows"] for p in partitions.values()),
        "partitions": partitions,
        "rejected": rejected if rejected is not None else {"rows": 0, "by_reason": {}},
    }
    if manifest is not None:
        info["manifest"] = {"totals": manifest.get("totals"),
                            "reconciliation": manifest.get("reconciliation")}
    lines = [f"{info['kind']}: {path}", "schema:"] + [f"  {s}" for s in info["schema"]]
    lines.append(f"rows: {info['rows']:,} in {len(partitions)} partition(s), "
                 f"{sum(p['files'] for p in partitions.values())} file(s)")
    shown = sorted(partitions.items())
    for rel, p in shown[:_SHOWN]:
        lines.append(f"  {rel:60s} {p['rows']:>12,} rows  {p['files']} file(s)  {p['row_groups']} row group(s)")
    if len(shown) > _SHOWN:
        rows = sorted(p["rows"] for p in partitions.values())
        lines.append(f"  ... {len(shown) - _SHOWN} more partitions (all: {rows[0]:,} to {rows[-1]:,} rows, "
                     f"median {rows[len(rows) // 2]:,}; --json lists them all)")
    rj = info["rejected"]
    lines.append(f"rejected: {rj['rows']:,}" + "".join(f"\n  {k:18s} {v:,}" for k, v in rj["by_reason"].items()))
    if manifest is not None:
        lines.append(f"manifest: {manifest['reconciliation']['equation']} "
                     f"({'balanced' if manifest['reconciliation']['balanced'] else 'NOT balanced'})")
    return info, "\n".join(lines)


def _partition_names(path: str) -> list[str]:
    """The partition column names of a dataset directory, from its first
    ``col=value/...`` path down to a file."""
    names: list[str] = []
    root = path
    while True:
        subs = sorted(d for d in os.listdir(root) if "=" in d and os.path.isdir(os.path.join(root, d)))
        if not subs:
            return names
        names.append(subs[0].split("=", 1)[0])
        root = os.path.join(root, subs[0])


def _manifest(path: str) -> dict:
    """A ``_manifest.json`` as written by convert (what inspect shows of it)."""
    try:
        with open(path, "rb") as f:
            m = json.load(f)
    except (OSError, ValueError) as e:
        raise InspectError(f"bad manifest {path}: {e}") from e
    rec = m.get("reconciliation") if isinstance(m, dict) else None
    if not isinstance(rec, dict) or not isinstance(rec.get("equation"), str) or "balanced" not in rec:
        raise InspectError(f"bad manifest {path}: expected a JSON object with "
                           f"`reconciliation` (`equation`, `balanced`)")
    return m


def _frames(paths: list[str]) -> tuple[dict, str]:
    """Frame files (one, or a FileSink directory's, in name order: a
    producer's sequence numbers run on across its rolled files)."""
    from .frames import FrameReader, decode_frame, iter_frames, peek_header
    reader = FrameReader()
    n = rows = 0
    schema = None
    seqs: dict[tuple, list[int]] = {}
    for path in paths:
        with open(path, "rb") as f:
            for payload in iter_frames(f, decode=False):
                h = peek_header(payload)
                if schema is None:
                    schema = decode_frame(payload).batch.schema
                reader.check(h)
                r = seqs.setdefault(h.stream_key, [h.seq, h.seq])
                r[0], r[1] = min(r[0], h.seq), max(r[1], h.seq)
                n += 1
                rows += h.row_count
    path = paths[0] if len(paths) == 1 else os.path.dirname(paths[0])
    streams = []
    for key, rep in reader.report().items():
        lo, hi = seqs[key]
        streams.append({"producer_id": str(key[0]), "stream_id": key[1], "frames": rep.frames,
                        "seq_min": lo, "seq_max": hi, "gaps": [list(g) for g in rep.gaps],
                        "missing": rep.missing, "duplicates": rep.duplicates,
                        "reordered": rep.reordered})
    info = {"kind": "frame file" if len(paths) == 1 else "frame files", "path": path,
            "files": len(paths), "frames": n, "rows": rows,
            "schema": [f"{f.name}: {f.type}" for f in schema] if schema is not None else [],
            "streams": streams}
    lines = [f"{info['kind']}: {path}" + (f" ({len(paths)} files)" if len(paths) > 1 else ""),
             f"frames: {n:,}, rows: {rows:,}", "schema:"]
    lines += [f"  {s}" for s in info["schema"]]
    for s in streams:
        gaps = ", ".join(f"{a}..{b}" for a, b in s["gaps"]) or "none"
        lines.append(f"stream {s['producer_id']}/{s['stream_id']}: {s['frames']} frame(s), "
                     f"seq {s['seq_min']}..{s['seq_max']}, gaps: {gaps}, "
                     f"duplicates: {s['duplicates']}, reordered: {s['reordered']}")
    return info, "\n".join(lines)


def _ndjson(path: str) -> tuple[dict, str]:
    from .readers import open_input, read_errors
    lines = blank = 0
    try:
        with open_input(path) as f:
            tail = b""
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                lines += chunk.count(b"\n")
                tail = chunk[-1:]
            if tail and tail != b"\n":
                lines += 1
    except read_errors() as e:
        raise InspectError(f"cannot read {path}: {e}") from e
    from .convert import ConvertError, infer_sample
    try:
        schema = infer_sample(path)
    except ConvertError as e:
        raise InspectError(str(e)) from e
    info = {"kind": "ndjson", "path": path, "lines": lines, "schema": str(schema).splitlines()}
    text = "\n".join([f"ndjson: {path}", f"lines: {lines:,}", "inferred schema:"]
                     + [f"  {s}" for s in info["schema"]])
    del blank
    return info, text
