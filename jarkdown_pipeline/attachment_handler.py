"""Attachment downloads: streamed, atomic, skipped when already present, under safe local names.

- The local name is a pure function of the issue's attachment list (``local_attachment_names``),
  never of what happens to be on disk, so a second run finds the same files and downloads nothing.
- Bytes go to a temporary file in the target folder (``JiraApiClient.download_to_file``), which
  replaces the final name only when the length matches ``Content-Length`` and Jira's ``size``: no
  partial file is ever visible under the final name, and a failed download leaves nothing behind.
"""

import asyncio
import functools
import logging
import os
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from stat import S_ISREG
from typing import Any

from pathvalidate import FileNameSanitizer, FileNameValidator
from yarl import URL

from jarkdown_pipeline.exceptions import AttachmentDownloadError, JarkdownError
from jarkdown_pipeline.sizes import human_size

__all__ = ["AttachmentHandler", "attachment_id", "local_attachment_names", "safe_filename"]

logger = logging.getLogger(__name__)

# Leaves room for a "-<id>" suffix and the temp-file decoration within the usual 255-byte limit.
MAX_NAME_BYTES = 180


def attachment_id(attachment: Mapping[str, Any]) -> str:
    """The attachment's id; older payloads without one fall back to the content URL's last segment."""
    if attachment.get("id") not in (None, ""):
        return str(attachment["id"])
    content = attachment.get("content")
    if content:
        last = URL(str(content)).path.rstrip("/").rsplit("/", 1)[-1]
        if last:
            return last
    filename = attachment.get("filename")
    if filename:
        return f"name:{filename}"
    raise AttachmentDownloadError("attachment has neither an id, a content URL nor a filename", filename=None)


def _truncate_utf8(text: str, max_bytes: int) -> str:
    while len(text.encode("utf-8")) > max_bytes:
        text = text[:-1]
    return text


# Built once: pathvalidate's sanitize_filename()/is_valid_filename() build both on every call,
# which was most of the time they took (the same arguments as those functions' defaults).
_SANITIZER = FileNameSanitizer(platform="universal", max_len=255)
_VALIDATOR = FileNameValidator(platform="universal", min_len=1, max_len=-1)


# Invisible characters that reorder or hide part of a name ("txt.exe" shown as "exe.txt"): bidi
# marks, embeddings, overrides and isolates, zero-width spaces and joiners, the byte-order mark.
_INVISIBLE_IN_NAMES = [0x061C, *range(0x200B, 0x2010), *range(0x202A, 0x202F), 0x2060, *range(0x2066, 0x206A), 0xFEFF]
_NAME_CHARACTERS = {code: None for code in _INVISIBLE_IN_NAMES} | {
    code: "_" for code in (*range(0x20), *range(0x7F, 0xA0))
}


def _visible_name(name: str) -> str:
    """``name`` in NFC (one spelling for "é", composed or not), without invisible characters and
    with control characters as ``_``."""
    return unicodedata.normalize("NFC", name.translate(_NAME_CHARACTERS))


def _name_key(name: str) -> str:
    """Names a case- or normalisation-insensitive file system (macOS, Windows) treats as one."""
    return unicodedata.normalize("NFC", name.casefold())


def safe_filename(original: str, fallback: str) -> str:
    """A name that stays inside its folder on every platform.

    Path separators become ``_`` (``a/b.png`` -> ``a_b.png``), ``.``/``..`` parts and leading dots
    are dropped (``../../x.txt`` -> ``x.txt``), control characters replaced, bidi and zero-width
    characters dropped, the name NFC-normalised, Windows-reserved names (``CON``, ``NUL.txt``)
    altered; ``fallback`` when nothing usable is left.
    """
    name = _safe_name(str(original))
    return name if name is not None else _SANITIZER.sanitize(_visible_name(fallback), replacement_text="_")


# A pure function, and names repeat (image.png, screenshot.png); the fallback (unique to each
# attachment) is not part of the key, or nothing would ever be found in the cache.
@functools.lru_cache(maxsize=4096)
def _safe_name(original: str) -> str | None:
    """``safe_filename``'s name for ``original``; None when nothing usable is left."""
    parts = [p for p in _visible_name(original).replace("\\", "/").split("/") if p not in ("", ".", "..")]
    name = _shorten("_".join(parts))
    # Stripping dots can expose a reserved name (".CON" -> "CON") and sanitising can leave a
    # trailing dot: repeat until stable.
    for _ in range(4):
        cleaned = _SANITIZER.sanitize(name.strip(". "), replacement_text="_").strip(". ")
        if cleaned == name:
            break
        name = cleaned
    return name if name and _VALIDATOR.is_valid(name) else None


def _shorten(name: str) -> str:
    """At most MAX_NAME_BYTES of UTF-8, cutting the stem rather than a (short) extension."""
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and len(ext.encode("utf-8")) <= 16:
        return _truncate_utf8(stem, MAX_NAME_BYTES - len(ext.encode("utf-8")) - 1).rstrip(". ") + "." + ext
    return _truncate_utf8(name, MAX_NAME_BYTES)


def _sort_key(attachment_key: str) -> tuple[int, int, str]:
    # Jira ids grow over time: the oldest attachment keeps the plain name when names clash.
    return (0, int(attachment_key), "") if attachment_key.isdigit() else (1, 0, attachment_key)


def local_attachment_names(attachments: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``{attachment id: local file name}``: safe, unique in the issue (case- and Unicode-normalisation-
    insensitively, as macOS and Windows compare names), deterministic.

    When names clash, the attachment with the smallest id keeps the plain name and the others get
    ``<stem>-<id><ext>``, so adding an attachment never renames the ones already downloaded.
    """
    entries = []
    for attachment in attachments:
        key = attachment_id(attachment)
        entries.append((key, safe_filename(str(attachment.get("filename") or ""), f"attachment-{key}")))
    entries.sort(key=lambda entry: _sort_key(entry[0]))

    names: dict[str, str] = {}
    taken: set[str] = set()
    for key, base in entries:
        if key in names:
            continue
        candidate = base
        if _name_key(candidate) in taken:
            stem, dot, ext = base.rpartition(".")
            if not dot or not stem:
                stem, ext = base, ""
            suffix = safe_filename(key, "x")
            candidate = f"{stem}-{suffix}{'.' + ext if ext else ''}"
            counter = 2
            while _name_key(candidate) in taken:
                candidate = f"{stem}-{suffix}-{counter}{'.' + ext if ext else ''}"
                counter += 1
        taken.add(_name_key(candidate))
        names[key] = candidate
    return names


def _is_file_of_size(path: Path, size: int) -> bool:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    return S_ISREG(stat.st_mode) and stat.st_size == size


class AttachmentHandler:
    """Downloads an issue's attachments through a ``JiraApiClient`` (which must be open)."""

    def __init__(self, client: Any, max_concurrent_downloads: int = 3) -> None:
        if max_concurrent_downloads < 1:
            raise ValueError("max_concurrent_downloads must be at least 1")
        self.client = client
        self.api_client = client  # the seed's attribute name
        self.max_concurrent_downloads = max_concurrent_downloads
        self._limit: asyncio.Semaphore | None = None

    _format_size = staticmethod(human_size)  # the seed's name for the one size formatter

    def _semaphore(self) -> asyncio.Semaphore:
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.max_concurrent_downloads)
        return self._limit

    async def download_attachment(
        self, attachment: Mapping[str, Any], output_dir: str | os.PathLike, local_name: str | None = None
    ) -> dict[str, Any]:
        """Download one attachment into ``output_dir`` (skipped if already there with the right size)."""
        key = attachment_id(attachment)
        original = str(attachment.get("filename") or "")
        name = local_name if local_name is not None else local_attachment_names([attachment])[key]
        folder = Path(output_dir)
        # Checked by its text, not with resolve() (a system call per folder of the path, per file):
        # a name that is one path component cannot leave the folder.
        if name in ("", ".", "..") or "/" in name or (os.altsep and os.altsep in name) or os.sep in name:
            raise AttachmentDownloadError(f"local name {name!r} would leave {folder}", filename=original)
        path = folder / name

        size = attachment.get("size")
        # A bool is an int to Python, not a size to Jira.
        is_size = isinstance(size, (int, float)) and not isinstance(size, bool) and size >= 0
        expected_size = int(size) if is_size else None
        info = {
            "attachment_id": key,
            "filename": name,
            "original_filename": original,
            "mime_type": attachment.get("mimeType") or "application/octet-stream",
            "size": expected_size,
            "path": str(path),
            "status": "skipped",
            "bytes_downloaded": 0,
        }
        if expected_size is not None and _is_file_of_size(path, expected_size):
            logger.debug("Attachment %s already present as %s", key, path)
            return info

        content_url = self.client.get_attachment_content_url(attachment)
        if not content_url:
            raise AttachmentDownloadError(f"attachment {original!r} (id {key}) has no content URL", filename=original)

        async with self._semaphore():
            try:
                # Atomic: the folder is made, and the final name appears, only once all bytes are in.
                written = await self.client.download_to_file(content_url, path, expected_size=expected_size)
            except (JarkdownError, OSError) as error:
                if isinstance(error, AttachmentDownloadError):
                    raise
                raise AttachmentDownloadError(
                    f"could not download attachment {original!r} (id {key}): {error}", filename=original, cause=error
                ) from error
        logger.info("Downloaded attachment %s (%s) to %s", original, human_size(written), path)
        info.update(
            status="downloaded", bytes_downloaded=written, size=expected_size if expected_size is not None else written
        )
        return info

    async def download_all_attachments(
        self, attachments: Iterable[Mapping[str, Any]], output_dir: str | os.PathLike
    ) -> list[dict[str, Any]]:
        """Download an issue's attachments concurrently (bounded); results in the given order.

        Every attachment is attempted; if any failed, ``AttachmentDownloadError`` lists them all and
        carries the successful results in ``.completed`` and the errors in ``.failures``.
        """
        # The same attachment listed twice is downloaded once.
        attachments = list({attachment_id(a): a for a in attachments}.values())
        names = local_attachment_names(attachments)
        outcomes = await asyncio.gather(
            *(self.download_attachment(a, output_dir, names[attachment_id(a)]) for a in attachments),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # cancellation and the like are not download failures
        failures = {
            attachment_id(a): outcome for a, outcome in zip(attachments, outcomes) if isinstance(outcome, Exception)
        }
        completed = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
        if failures:
            listing = "; ".join(f"{key}: {error}" for key, error in failures.items())
            raise AttachmentDownloadError(
                f"{len(failures)} of {len(attachments)} attachments failed to download: {listing}",
                filename=None,
                cause=next(iter(failures.values())),
                failures=failures,
                completed=completed,
            )
        return completed
