"""Exception classes and rejection reason codes, shared by the core and Python.

Exceptions are raised only for misuse of the API (a bad schema, a wrong
argument type, a closed object).  Bad *data* never raises: it becomes a
rejected row (see :class:`Reason`).
"""

from __future__ import annotations

import enum

__all__ = [
    "EventBatchError",
    "SchemaError",
    "CapacityError",
    "FrameError",
    "SinkError",
    "SnapshotError",
    "Reason",
]


class EventBatchError(Exception):
    """Base class of every error raised by eventbatch."""


class SchemaError(EventBatchError, ValueError):
    """A schema is malformed or uses a type eventbatch does not support.

    >>> import eventbatch as eb
    >>> try:
    ...     eb.Schema.from_json('{"fields": [{"name": "x", "type": "int128"}]}')
    ... except eb.SchemaError as e:
    ...     print("bad schema")
    bad schema
    """


class CapacityError(EventBatchError, OverflowError):
    """A buffer limit was reached that the call cannot work around."""


class FrameError(EventBatchError, ValueError):
    """A frame is corrupt, truncated, of an unknown version or not a frame at all."""


class SinkError(EventBatchError, IOError):
    """A sink failed to accept frames.

    ``retryable`` tells the producer whether trying again may succeed.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class SnapshotError(EventBatchError, ValueError):
    """A dedup snapshot file is corrupt, truncated, of an unknown version or
    not a snapshot at all (see :meth:`eventbatch.Deduplicator.restore`)."""


class Reason(enum.IntEnum):
    """Why an input was rejected.  The codes are stable: they are stored in
    rejected-row tables and must never be renumbered.

    ===================  ====================================================
    code                 meaning
    ===================  ====================================================
    INVALID_JSON         not RFC 8259 JSON (syntax, bad escape, lone
                         surrogate, control character, leading zero,
                         NaN/Infinity, trailing data after the value)
    INVALID_UTF8         the bytes are not valid UTF-8 (or a Python str
                         holds a lone surrogate)
    NOT_AN_OBJECT        the event is valid JSON but not an object
    TYPE_MISMATCH        a value has the wrong JSON type for its column
    OUT_OF_RANGE         a number or timestamp does not fit its column
    INVALID_VALUE        a string cannot be parsed as its column's type
                         (timestamp, date, base64)
    MISSING_REQUIRED     a non-nullable field is absent or null
    UNKNOWN_FIELD        a field not in the schema, under
                         ``unknown_fields="error"``
    TOO_DEEP             nesting deeper than ``max_depth``
    LINE_TOO_LONG        a line longer than ``max_line_bytes``
    ===================  ====================================================
    """

    INVALID_JSON = 1
    INVALID_UTF8 = 2
    NOT_AN_OBJECT = 3
    TYPE_MISMATCH = 4
    OUT_OF_RANGE = 5
    INVALID_VALUE = 6
    MISSING_REQUIRED = 7
    UNKNOWN_FIELD = 8
    TOO_DEEP = 9
    LINE_TOO_LONG = 10

    @property
    def code(self) -> str:
        """The lower-case name stored in rejected-row tables."""
        return self.name.lower()
