"""Small file-system helpers shared by the knowledge base, the client's downloads and the attachment handler."""

import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".tmp"
DOWNLOAD_TEMP_SUFFIX = ".part"  # a download in progress: left alone by pruning, like TEMP_SUFFIX
TEMP_SUFFIXES = (TEMP_SUFFIX, DOWNLOAD_TEMP_SUFFIX)
# A temporary file untouched for this long was left by a killed run: one still being written has a
# fresh mtime (a download touches its .part with every chunk; a stalled one is cut off long before).
STALE_TEMP_FILE_SECONDS = 3600.0


class SymlinkRefusedError(ValueError):
    """A write, replace or delete would go through a symbolic link (possibly out of the output folder)."""


def symlink_on_the_way(root: Path, path: Path) -> Path | None:
    """The first of ``path``'s components below ``root`` (``path`` included) that is a symbolic link.

    None when there is none; components that do not exist yet end the walk (nothing below them
    exists either). ``root`` itself is trusted. ValueError when ``path`` is not below ``root``.
    """
    # As strings, not Paths: it runs for every file an unchanged issue's run looks at.
    base, target = os.fspath(root), os.fspath(path)
    if target == base:
        return None
    prefix = base if base.endswith(os.sep) else base + os.sep
    # A root such as "." is no prefix of the paths below it: those take pathlib's way.
    parts = target[len(prefix) :].split(os.sep) if target.startswith(prefix) else Path(path).relative_to(root).parts
    current = base
    for part in parts:
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(mode):
            return Path(current)
    return None


def check_no_symlink(root: Path, path: Path) -> Path:
    """``path`` itself, or SymlinkRefusedError naming the link on the way from ``root`` to it."""
    link = symlink_on_the_way(root, path)
    if link is not None:
        raise SymlinkRefusedError(
            f"refused: {link.relative_to(root).as_posix()} is a symbolic link (nothing is written through links)"
        )
    return path


def is_temp_file_name(name: str) -> bool:
    """A hidden temporary file as ``new_temp_file`` names them (``.NAME.random.tmp`` / ``.part``)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIXES)


def remove_stale_temp_files(
    folder: Path, max_age_seconds: float = STALE_TEMP_FILE_SECONDS, now: float | None = None
) -> list[str]:
    """Delete temporary files in ``folder`` (not below it) untouched for ``max_age_seconds``; their names.

    Only regular files in a real folder (a link is never followed nor removed); a missing folder
    has none. The caller checks the folders above ``folder`` (``check_no_symlink``).
    """
    return sweep_temp_files(folder, max_age_seconds, now).removed


@dataclass(frozen=True)
class TempSweep:
    """What ``sweep_temp_files`` did in one folder."""

    removed: list[str]
    """The stale temporary files removed (names, sorted)."""
    kept: int
    """Temporary files left because they are fresh: a run may still be writing them."""


def sweep_temp_files(
    folder: Path, max_age_seconds: float = STALE_TEMP_FILE_SECONDS, now: float | None = None
) -> TempSweep:
    """``remove_stale_temp_files``, also counting the fresh temporary files it left."""
    cutoff = (time.time() if now is None else now) - max_age_seconds
    removed, kept = [], 0
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return TempSweep([], 0)
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return TempSweep([], 0)
    for entry in entries:
        if not is_temp_file_name(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                continue
            if info.st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(entry.name)
            else:
                kept += 1
        except FileNotFoundError:
            continue  # its run finished (renamed it) or another run removed it meanwhile
    return TempSweep(sorted(removed), kept)


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


def new_temp_file(path: Path, suffix: str = TEMP_SUFFIX, temp_dir: Path | None = None) -> tuple[BinaryIO, str]:
    """A new hidden file named after ``path``, in ``temp_dir`` or else beside ``path`` (the folder
    created if missing), open for writing, with the mode ``open()`` would give; (file, its name)."""
    folder, prefix = path.parent if temp_dir is None else temp_dir, f".{path.name[:60]}."
    try:
        fd, temp_name = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    try:
        give_new_file_mode(fd)
        return os.fdopen(fd, "wb"), temp_name
    except BaseException:
        os.close(fd)
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_temp_file(
    path: Path, data: bytes, *, durable: bool = False, suffix: str = TEMP_SUFFIX, temp_dir: Path | None = None
) -> str:
    """``data`` in a new hidden file for ``path`` (``new_temp_file``), closed; its name. Nothing is
    left behind if writing fails. ``durable``: fsynced."""
    sink, temp_name = new_temp_file(path, suffix, temp_dir)
    try:
        with sink:
            sink.write(data)
            if durable:
                sink.flush()
                os.fsync(sink.fileno())
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return temp_name


def write_atomically(
    path: Path, data: bytes, *, durable: bool = False, suffix: str = TEMP_SUFFIX, temp_dir: Path | None = None
) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``.

    Readers never see a half-written file, and a crash leaves the old content in place. The
    temporary file is made beside ``path``, or in ``temp_dir`` (a folder of the same file system).
    The folder is created if missing. ``durable``: fsync before the rename (the bytes are on disk
    before the name points at them).
    """
    temp_name = write_temp_file(path, data, durable=durable, suffix=suffix, temp_dir=temp_dir)
    try:
        replace_into(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def replace_into(temp_name: str, path: Path) -> None:
    """``os.replace(temp_name, path)``, ``path``'s folder created if missing (a temporary file made
    in another folder does not create it)."""
    try:
        os.replace(temp_name, path)
    except FileNotFoundError:
        if not os.path.exists(temp_name):
            raise
        # The folder was missing (another thread may have made it since: exist_ok).
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp_name, path)
