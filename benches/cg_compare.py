"""Instruction counts under callgrind: eventbatch vs pyarrow (see RESULTS.md).

The count of one call is the difference between a process that makes it 3
times and one that makes it once, halved (start-up and the warm-up cancel)::

    python benches/cg_compare.py --make /tmp/cg20k.ndjson
    for w in eb_nd pa_nd eb_dicts pa_dicts; do for k in 1 3; do
        PYTHONPATH=src valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
            python benches/cg_compare.py $w $k /tmp/cg20k.ndjson 2>&1 | grep refs
    done; done
"""
import io
import json
import sys

import pyarrow as pa
import pyarrow.json as pj

import eventbatch as eb
from eventbatch import gen

if sys.argv[1] == "--make":   # the first 19,990 events of generate_ndjson(200000, seed=1)
    lines = gen.generate_ndjson(20_000, seed=1).splitlines(keepends=True)[:19_990]
    open(sys.argv[2], "wb").write(b"".join(lines))
    sys.exit(0)

which, reps, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
sch = gen.event_schema()
dicts = [json.loads(line) for line in data.splitlines()] if which.endswith("dicts") else None
enc = eb.Encoder(sch)
calls = {
    "eb_nd": lambda: (enc.extend_ndjson(data, final=True), enc.flush())[1],
    "pa_nd": lambda: pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(use_threads=False),
                                  parse_options=pj.ParseOptions(explicit_schema=sch)),
    "eb_dicts": lambda: (enc.extend(dicts), enc.flush())[1],
    "pa_dicts": lambda: pa.RecordBatch.from_pylist(dicts, schema=sch),
}
for _ in range(reps):
    result = calls[which]()
print(which, result.num_rows)
