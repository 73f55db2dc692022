"""Bounded reading of request bodies.

Django's and DRF's limits are not enough on their own (DRF's JSON parsing has bypassed
DATA_UPLOAD_MAX_MEMORY_SIZE before), so ingest reads the raw stream itself and stops at
the cap, both for the bytes on the wire and for what gzip expands them to.
"""

import zlib

from django.http import HttpRequest

CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    pass


class UnsupportedEncoding(Exception):
    pass


class CorruptBody(Exception):
    pass


def body_read(request: HttpRequest, *, limit: int) -> bytes:
    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise UnsupportedEncoding(encoding)
    raw = bytearray()
    while True:
        chunk = request.read(CHUNK)
        if not chunk:
            break
        raw += chunk
        if len(raw) > limit:
            raise BodyTooLarge()
    if encoding != "gzip":
        return bytes(raw)
    return _gunzip(bytes(raw), limit=limit)


def _gunzip(data: bytes, *, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as error:
        raise CorruptBody(f"Body is not valid gzip: {error}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge()
    if not inflater.eof:
        raise CorruptBody("Body is not valid gzip: the stream is truncated.")
    return out
