"""Long runs, excluded from the default test run: `python -m pytest -m slow`."""

import os
import random

import pytest

import eventbatch as eb
from eventbatch import _reference, gen

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("policy", ["ignore", "error", "extra"])
def test_soak_core_vs_reference_on_malformed_streams(policy):
    """200k generated events with re-sends and 5% malformed lines, fed in random
    pieces: the core and the reference agree on every row and rejected row."""
    seed = int(os.environ.get("EVENTBATCH_TEST_SEED", "12345"))
    rng = random.Random(seed)
    schema = eb.Schema.from_arrow(gen.event_schema(), unknown_fields=policy)
    data = gen.generate_ndjson(200_000, seed=seed, dup_rate=0.02, malformed_rate=0.05)
    core, ref = eb.Encoder(schema), _reference.ReferenceEncoder(schema)
    tail_c = tail_r = b""
    i = 0
    while i < len(data):
        k = rng.randint(1, 1 << 20)
        tail_c = core.extend_ndjson(tail_c + data[i:i + k])
        tail_r = ref.extend_ndjson(tail_r + data[i:i + k])
        i += k
    core.extend_ndjson(tail_c, final=True)
    ref.extend_ndjson(tail_r, final=True)
    a, b = core.flush(), ref.flush()
    a.validate(full=True)
    assert a.equals(b)
    keys = ("raw", "line", "offset", "reason", "path")
    ra = [{k: r[k] for k in keys} for r in core.flush_rejected().to_pylist()]
    rb = [{k: r[k] for k in keys} for r in ref.flush_rejected().to_pylist()]
    assert ra == rb
    sc, sr = core.stats(), ref.stats()
    assert sc["inputs"] == sc["accepted"] + sc["rejected"]
    assert {k: sc[k] for k in ("inputs", "accepted", "rejected", "blank_lines")} == \
        {k: sr[k] for k in ("inputs", "accepted", "rejected", "blank_lines")}
