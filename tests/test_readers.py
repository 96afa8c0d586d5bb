"""open_input: compressed streams end where they should, or say they do not."""
from __future__ import annotations

import io
import random

import pytest

from eventbatch.readers import open_input

zstandard = pytest.importorskip("zstandard")

DATA = b"".join(b'{"i": %d, "s": "%s"}\n' % (i, (b"%08x" % (i * 2654435761 % 2**32)) * 3)
                for i in range(20000))


def _read(payload: bytes) -> bytes:
    return open_input(io.BytesIO(payload)).read()


@pytest.mark.parametrize("level,checksum", [(1, False), (3, True), (19, False)])
def test_zstd_truncated_anywhere_raises(level, checksum):
    """python-zstandard's stream reader returns what it has when the input
    stops inside a frame; open_input raises EOFError there instead."""
    c = zstandard.ZstdCompressor(level=level, write_checksum=checksum).compress(DATA)
    assert _read(c) == DATA
    rng = random.Random(level)
    for cut in sorted(rng.sample(range(1, len(c)), 30)) + [len(c) - 1, 4, 5]:
        with pytest.raises(EOFError, match=r"truncated zstd stream: the input ends at byte %d" % cut):
            _read(c[:cut])


def test_zstd_streamed_frames_and_skippable_frames_read_whole():
    small = zstandard.ZstdCompressor().compress(DATA[:1000])
    obj = zstandard.ZstdCompressor(level=3).compressobj()     # no content size, many blocks
    streamed = obj.compress(DATA) + obj.flush()
    skippable = (0x184D2A53).to_bytes(4, "little") + (6).to_bytes(4, "little") + b"ignore"
    assert _read(small + skippable + streamed) == DATA[:1000] + DATA
    with pytest.raises(EOFError, match="inside the frame that begins at byte %d" % len(small)):
        _read(small + skippable[:9])
    with pytest.raises(EOFError):
        _read(small + skippable + streamed[:-1])
    assert _read(b"") == b""
