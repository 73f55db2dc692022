"""Bounded reading of request bodies.

Django's and DRF's limits are not enough on their own (DRF's JSON parsing has bypassed
DATA_UPLOAD_MAX_MEMORY_SIZE before), so ingest reads the raw stream itself and stops at
the cap, both for the bytes on the wire and for what gzip expands them to.

Nothing the client sent is ignored: a chunked body (no Content-Length) is read from the
server's input stream, every member of a multi-member gzip body (``cat a.gz b.gz``) is
inflated, and bytes after the last gzip member are refused instead of dropped.
"""

import zlib

from django.http import HttpRequest

CHUNK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


class BodyTooLarge(Exception):
    pass


class UnsupportedEncoding(Exception):
    pass


class CorruptBody(Exception):
    pass


def _stream(request: HttpRequest):
    """The body stream. Django reads a body without Content-Length as empty; a chunked one is not empty.

    WSGI servers (gunicorn) de-chunk ``wsgi.input`` and end it at the last chunk, so it can
    be read to its end; under ASGI the request's own stream already holds the whole body.
    """
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not request.META.get("CONTENT_LENGTH") and "wsgi.input" in request.META:
        return request.META["wsgi.input"]
    return request


def body_read(request: HttpRequest, *, limit: int) -> bytes:
    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise UnsupportedEncoding(encoding)
    stream = _stream(request)
    raw = bytearray()
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        raw += chunk
        if len(raw) > limit:
            raise BodyTooLarge()
    if encoding != "gzip":
        return bytes(raw)
    return gunzip(bytes(raw), limit=limit)


def gunzip(data: bytes, *, limit: int) -> bytes:
    """Every gzip member of ``data``, concatenated, refused past ``limit`` bytes or on anything after them."""
    out = bytearray()
    rest = data
    while True:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as error:
            raise CorruptBody(f"Body is not valid gzip: {error}.") from None
        if len(out) > limit or inflater.unconsumed_tail:
            raise BodyTooLarge()
        if not inflater.eof:
            raise CorruptBody("Body is not valid gzip: the stream is truncated.")
        rest = inflater.unused_data
        if not rest:
            return bytes(out)
        if not rest.startswith(_GZIP_MAGIC):
            raise CorruptBody(
                f"Body is not valid gzip: {len(rest)} bytes follow the end of the gzip stream; nothing was accepted."
            )
