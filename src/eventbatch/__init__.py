"""eventbatch: application events to typed Arrow record batches, fast."""
from .errors import (CapacityError, EventBatchError, FrameError, Reason, SchemaError, SinkError,
                     SnapshotError)
from .schema import DataType, Field, Schema
from .encoder import REJECTED_SCHEMA, Encoder
from .readers import iter_ndjson, open_input, read_ndjson
from ._core import hash64
from .dedup import Deduplicator, Window
from .frames import (Frame, FrameHeader, FrameReader, decode_frame, encode_frame, iter_frames,
                     peek_header, schema_fingerprint, write_frames)
from .sinks import AsyncSink, CallbackSink, FileSink, MemorySink, Sink
from .producer import BufferFullError, Outbox, Producer, RetryPolicy
from .convert import ConvertError, ConvertReport, ConvertUsageError, convert
