"""eventbatch: application events to typed Arrow record batches, fast."""
from .errors import (CapacityError, EventBatchError, FrameError, Reason, SchemaError, SinkError,
                     SnapshotError)
from .schema import DataType, Field, Schema
from .encoder import REJECTED_SCHEMA, Encoder
from .readers import iter_ndjson, open_input, read_ndjson
from ._core import hash64
from .dedup import Deduplicator, Window
