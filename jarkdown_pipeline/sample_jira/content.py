"""Attachment bytes, generated deterministically from (seed, attachment id) at any offset.

Nothing larger than one 64 KiB block is ever held: a 1 GiB attachment is streamed block by
block. Every block carries its own index, so truncated, reordered or repeated blocks change
the bytes (a byte-exact check catches them).
"""

import functools
import random
import struct
import zlib
from collections.abc import Iterator

BLOCK_SIZE = 64 * 1024
TEXT_LINE_BYTES = 64
_LINES_PER_BLOCK = BLOCK_SIZE // TEXT_LINE_BYTES

KIND_PNG = "png"
KIND_TEXT = "text"
KIND_BINARY = "binary"

_MAGIC = {
    ".pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    ".zip": b"PK\x03\x04",
    ".docx": b"PK\x03\x04",
    ".xlsx": b"PK\x03\x04",
    ".gz": b"\x1f\x8b\x08\x00",
    ".bin": b"\x7fSAMPLEJIRA\x00",
}


def png_bytes(seed: int, attachment_id: int, width: int = 24, height: int = 16) -> bytes:
    """A real, valid RGB PNG (a seeded gradient), a few hundred bytes."""
    return _png_bytes_cached(seed, attachment_id, width, height)


@functools.lru_cache(maxsize=256)
def _png_bytes_cached(seed: int, attachment_id: int, width: int, height: int) -> bytes:
    rng = random.Random(f"png:{seed}:{attachment_id}")
    r0, g0, b0 = rng.randrange(256), rng.randrange(256), rng.randrange(256)
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        for x in range(width):
            rows += bytes(((r0 + 9 * x) % 256, (g0 + 13 * y) % 256, (b0 + 5 * (x + y)) % 256))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def _binary_block(seed: int, attachment_id: int, index: int, magic: bytes, lo: int = 0, hi: int = BLOCK_SIZE) -> bytes:
    """Bytes [lo, hi) of a binary block: seeded random bytes under a header naming (id, index).

    Only what is asked for is generated (randbytes of a multiple of 4 is a prefix of a longer
    call), so a 2 KiB attachment costs a 2 KiB draw, not a 64 KiB one: the server's CPU per
    download stays small next to the latency a benchmark sets.
    """
    base = random.Random(f"bin:{seed}:{attachment_id}").randbytes(-(-hi // 4) * 4)
    head = struct.pack(">QQ", attachment_id, index)
    block = head + base[len(head) :]
    if index == 0 and magic:
        block = magic + block[len(magic) :]
    return block[lo:hi]


_LEVELS = ("INFO ", "DEBUG", "WARN ", "ERROR")
_COMPONENTS = ("api", "worker", "scheduler", "db-pool", "auth", "cache")
_MESSAGES = ("request served", "retrying batch", "cache miss", "slow query", "token refreshed", "queue drained")


def _text_block(seed: int, index: int, lo: int = 0, hi: int = BLOCK_SIZE) -> bytes:
    """Bytes [lo, hi) of a text block of fixed 64-byte log lines; only the lines in range are made."""
    first_line = lo // TEXT_LINE_BYTES
    lines = []
    base = index * _LINES_PER_BLOCK
    for n in range(base + first_line, base + -(-hi // TEXT_LINE_BYTES)):
        mix = (n * 2654435761 + seed) & 0xFFFFFFFF
        line = f"{n:09d} {_LEVELS[mix % 4]} {_COMPONENTS[(mix >> 3) % 6]:<9} {_MESSAGES[(mix >> 7) % 6]} id={mix:08x}"
        lines.append(line[: TEXT_LINE_BYTES - 1].ljust(TEXT_LINE_BYTES - 1) + "\n")
    skip = first_line * TEXT_LINE_BYTES
    return "".join(lines).encode("ascii")[lo - skip : hi - skip]


def iter_content(
    seed: int, attachment_id: int, kind: str, size: int, extension: str = "", start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    """Yield bytes [start, end) of the attachment in blocks of at most BLOCK_SIZE."""
    end = size if end is None else min(end, size)
    if start >= end:
        return
    if kind == KIND_PNG:
        yield png_bytes(seed, attachment_id)[start:end]
        return
    magic = _MAGIC.get(extension.lower(), b"")
    index = start // BLOCK_SIZE
    offset = index * BLOCK_SIZE
    while offset < end:
        lo = max(start - offset, 0)
        hi = min(end - offset, BLOCK_SIZE)
        if kind == KIND_TEXT:
            yield _text_block(seed ^ attachment_id, index, lo, hi)
        else:
            yield _binary_block(seed, attachment_id, index, magic, lo, hi)
        index += 1
        offset += BLOCK_SIZE
