#!/usr/bin/env python
"""Regression check: compare a benchmark JSON with a saved baseline.

    python benches/regress.py BASELINE.json NEW.json [--threshold 0.15]

Both files are either ``eventbatch bench --json`` output (rows compared by
events/s) or pytest-benchmark ``--benchmark-json`` output (benchmarks
compared by 1 / median time).  A row whose rate fell by more than
``--threshold`` (default 0.15 = 15%) is a regression; the exit code is 1
if there is any.

Not run in CI: shared machines are noisy (the same command gives up to 2x
different rates on the project's machine), so run it on a quiet machine,
with the baseline taken on the same one.  The saved baselines are
``benches/baseline.json`` (``eventbatch bench``) and
``benches/baseline-pytest.json`` (``pytest benches/``); their machines are
recorded inside.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("baseline", help="saved JSON (eventbatch bench --json, or pytest --benchmark-json)")
    ap.add_argument("new", help="JSON of the run to check, same format")
    ap.add_argument("--threshold", type=float, default=0.15,
                    help="slowdown that counts as a regression (default 0.15 = 15%%)")
    args = ap.parse_args(argv)
    if not 0 <= args.threshold < 1:
        ap.error("--threshold must be in [0, 1)")

    from eventbatch.bench.report import compare, format_comparison, load_results
    from eventbatch.errors import EventBatchError
    try:
        base, new = load_results(args.baseline), load_results(args.new)
    except EventBatchError as e:
        print(f"regress: error: {e}", file=sys.stderr)
        return 2
    if ("results" in base) != ("results" in new):
        print("regress: error: the two files have different formats "
              "(eventbatch bench --json vs pytest --benchmark-json)", file=sys.stderr)
        return 2
    rows = compare(new, base, args.threshold)
    unit = "events/s" if "results" in new else "runs/s"
    print(format_comparison(rows, args.threshold, unit=unit))
    return 1 if any(r["regressed"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
