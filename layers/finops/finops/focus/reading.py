"""Reading a FOCUS file: the bytes of an HTTP body or an S3 object as CSV records, gunzipped when gzip, decoded as
UTF-8, streamed (a record at a time, whatever the file's size), with a limit on what a body may expand to. A file that
is not CSV, not UTF-8 or corrupt gzip is refused (422) with the line where it broke."""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from typing import IO, Any

from finops.errors import InvalidRequest, PayloadTooLarge

MAX_FIELD_CHARS = 1_000_000  # one CSV field (Tags can be long); csv's default of 131,072 is too small for some bills
_GZIP_MAGIC = b"\x1f\x8b"


class _Limited(io.RawIOBase):
    """A binary stream that refuses to yield more than `limit` bytes (a gzip body can expand a thousandfold)."""

    def __init__(self, inner: IO[bytes], limit: int | None) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        if self._left is not None:
            self._left -= len(data)
            if self._left < 0:
                raise PayloadTooLarge("the decompressed file is larger than this import accepts; use the S3 import")
        buffer[: len(data)] = data
        return len(data)


def csv_text(stream: IO[bytes], *, max_bytes: int | None = None) -> IO[str]:
    """The file as text: gunzipped when it starts with the gzip magic bytes, UTF-8 with or without a BOM."""
    buffered = io.BufferedReader(_Unbuffered(stream), buffer_size=1 << 16)
    raw: IO[bytes] = buffered
    if buffered.peek(2)[:2] == _GZIP_MAGIC:
        raw = gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[assignment]
    limited = io.BufferedReader(_Limited(raw, max_bytes), buffer_size=1 << 16)
    return io.TextIOWrapper(limited, encoding="utf-8-sig", newline="")


class _Unbuffered(io.RawIOBase):
    """Any object with read() (a botocore StreamingBody, a BytesIO) as a raw stream BufferedReader can wrap."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def http_body(body: str | None, is_base64_encoded: bool) -> IO[bytes]:
    """The request body as bytes (API Gateway base64-encodes a binary body, such as a gzip one)."""
    if not body:
        raise InvalidRequest("the body is empty: send the FOCUS CSV file", field="body", location="body")
    if not is_base64_encoded:
        return io.BytesIO(body.encode())
    try:
        return io.BytesIO(base64.b64decode(body, validate=True))
    except binascii.Error:
        raise InvalidRequest("the body is not valid base64", field="body", location="body") from None


def csv_records(text: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank record of the file with the line it ends on (the header is line 1)."""
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(text, strict=True)
    try:
        for values in reader:
            if values:  # a blank line is no row
                yield reader.line_num, values
    except csv.Error as error:
        raise InvalidRequest(
            f"line {reader.line_num}: the file is not valid CSV ({error})", field="body", location="body"
        ) from None
    except UnicodeDecodeError:
        raise InvalidRequest(
            f"after line {reader.line_num}: the file is not UTF-8 text", field="body", location="body"
        ) from None
    except (OSError, EOFError, zlib.error) as error:  # a gzip stream that is corrupt or cut short
        raise InvalidRequest(f"the gzip data is corrupt ({error})", field="body", location="body") from None
