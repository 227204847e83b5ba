"""Small file-system helpers shared by the knowledge base, the client's downloads and the attachment handler."""

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".tmp"
DOWNLOAD_TEMP_SUFFIX = ".part"  # a download in progress: left alone by pruning, like TEMP_SUFFIX


def _process_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _process_umask()


def give_new_file_mode(fd: int) -> None:
    """``mkstemp`` creates files readable by the owner only (0600); a knowledge base is meant to be
    read by others (a web server, a search indexer), so give the file the mode ``open()`` would:
    0666 less the umask."""
    os.fchmod(fd, 0o666 & ~_UMASK)


def new_temp_file(path: Path, suffix: str = TEMP_SUFFIX) -> tuple[BinaryIO, str]:
    """A new hidden file beside ``path`` (its folder created if missing), open for writing, with
    the mode ``open()`` would give; (file, its name)."""
    try:
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:60]}.", suffix=suffix)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:60]}.", suffix=suffix)
    try:
        give_new_file_mode(fd)
        return os.fdopen(fd, "wb"), temp_name
    except BaseException:
        os.close(fd)
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes, *, durable: bool = False, suffix: str = TEMP_SUFFIX) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    Readers never see a half-written file, and a crash leaves the old content in place. The
    folder is created if missing. ``durable``: fsync before the rename (the bytes are on disk
    before the name points at them).
    """
    sink, temp_name = new_temp_file(path, suffix)
    try:
        with sink:
            sink.write(data)
            if durable:
                sink.flush()
                os.fsync(sink.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
