"""Bounded reading of response bodies: a size cap, a minimum transfer rate, and content decoding.

Pure pieces (no aiohttp), used by ``JiraApiClient``:
- ``SizeCap`` counts bytes as they arrive and stops at a limit, so a compressed answer that inflates
  to hundreds of MB is refused after the limit, never held whole.
- ``RateFloor`` notices a stream that delivers less than ``min_rate`` bytes per second over a window
  (a server trickling a byte every few seconds never trips a socket-read timeout).
- ``ContentDecoder`` decodes an attachment served with ``Content-Encoding`` gzip or deflate in
  bounded steps and says whether the compressed stream really ended: a cut gzip stream must fail,
  not be kept as a complete (truncated) file.
"""

import time
import zlib
from collections.abc import Callable, Iterator

from jarkdown_pipeline._retry import IncompleteDownload

# zlib's window-bits: 16 + 15 reads a gzip header, 15 a zlib one, -15 raw deflate (servers send all three as "deflate").
_GZIP_WBITS = 16 + zlib.MAX_WBITS
# Decoded at most this much per step: memory stays bounded whatever the compression ratio.
DECODE_STEP_BYTES = 64 * 1024
DECODED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})


class SizeLimitExceeded(Exception):
    """More bytes arrived than ``SizeCap.limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class SizeCap:
    """Counts the bytes of one body; ``add`` raises ``SizeLimitExceeded`` once they pass ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.received = 0

    def add(self, size: int) -> None:
        self.received += size
        if self.received > self.limit:
            raise SizeLimitExceeded(self.limit)


class TooSlow(Exception):
    """A stream delivered less than the minimum rate over a whole window."""


class RateFloor:
    """Checks, as bytes arrive, that each window of ``window`` seconds brought ``min_rate * window`` bytes.

    Measured per window (not since the start), so a fast beginning cannot pay for a later trickle,
    and a short stall inside a healthy window costs nothing.
    """

    def __init__(self, min_rate: float, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_rate = min_rate
        self.window = window
        self._clock = clock
        self._window_start = clock()
        self._window_bytes = 0

    def add(self, size: int) -> None:
        self._window_bytes += size
        now = self._clock()
        elapsed = now - self._window_start
        if elapsed < self.window:
            return
        if self._window_bytes < self.min_rate * elapsed:
            raise TooSlow(
                f"{self._window_bytes} bytes in {elapsed:.1f} s, below the minimum of {self.min_rate:g} bytes/s"
            )
        self._window_start, self._window_bytes = now, 0


class UnsupportedEncoding(Exception):
    """The body is encoded in a way the client does not decode."""


class ContentDecoder:
    """Decodes a body by its ``Content-Encoding`` (none, identity, gzip, deflate) in bounded steps."""

    def __init__(self, content_encoding: str | None) -> None:
        encoding = (content_encoding or "identity").strip().lower()
        if encoding not in DECODED_ENCODINGS | {"identity", ""}:
            raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not one the client decodes")
        self.encoding = encoding if encoding in DECODED_ENCODINGS else None
        self._decompressor = self._new_decompressor(None) if self.encoding else None
        self._started = False

    def _new_decompressor(self, first_byte: int | None) -> "zlib._Decompress":
        if self.encoding == "deflate" and first_byte is not None and first_byte & 0x0F != 8:
            return zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no zlib header
        return zlib.decompressobj(_GZIP_WBITS if self.encoding != "deflate" else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of ``data``, in pieces of at most ``DECODE_STEP_BYTES``."""
        if self._decompressor is None:
            if data:
                yield data
            return
        if data and not self._started:
            self._started = True
            self._decompressor = self._new_decompressor(data[0])
        pending = data
        while pending:
            if self._decompressor.eof:  # another gzip member follows (or zero padding)
                if not pending.strip(b"\0"):
                    return
                self._decompressor = self._new_decompressor(pending[0])
            decompressor = self._decompressor
            try:
                piece = decompressor.decompress(pending, DECODE_STEP_BYTES)
            except zlib.error as error:
                raise UnsupportedEncoding(f"the {self.encoding} stream is corrupt ({error})") from None
            if piece:
                yield piece
            pending = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail

    def finish(self) -> None:
        """Raise ``IncompleteDownload`` (retried, like a cut connection) if the compressed stream stopped early."""
        if self._decompressor is not None and self._started and not self._decompressor.eof:
            raise IncompleteDownload(f"the {self.encoding} stream ended before its end marker (truncated)")
