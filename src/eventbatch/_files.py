"""Small file-system helpers shared by the writers (sinks, dedup snapshots)."""

from __future__ import annotations

import os


def fsync_dir(directory: str) -> None:
    """Make a rename inside ``directory`` durable (best effort: a platform
    that cannot open or sync a directory is skipped)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
