"""Match ADF media nodes to downloaded attachments and build relative links to them."""

from collections.abc import Iterable, Mapping
from typing import Any

from jarkdown_pipeline.markdown.escape import percent_encode_path_segment


def _upload_order(info: Mapping[str, Any]) -> tuple[int, str]:
    """Oldest first: Jira's attachment ids grow with each upload (numeric ids before others)."""
    attachment_id = str(info.get("attachment_id") or info.get("id") or "")
    return (int(attachment_id), "") if attachment_id.isdigit() else (2**63, attachment_id)


class MediaIndex:
    """Downloaded attachments (AttachmentHandler info dicts), looked up the ways ADF refers to them.

    A media node carries a Media Services id (not the attachment id), and usually the file name
    in ``alt``; so it is matched by attachment id, media id, then alt/title/file name. When several
    attachments share a name, each distinct media id claims the next one not yet claimed (oldest
    attachment id first) and keeps it, so two uploads of ``report.pdf`` link to two files, and
    every mention of one upload links to the same file. One index serves a whole issue.
    """

    def __init__(self, attachments: Iterable[Mapping[str, Any]] = (), attachments_dir: str = "attachments") -> None:
        self.attachments_dir = attachments_dir.strip("/")
        self.attachments = [dict(info) for info in attachments]
        self._by_id: dict[str, dict[str, Any]] = {}
        self._by_name: dict[str, list[dict[str, Any]]] = {}
        self._claimed_by_media_id: dict[tuple[str, str], dict[str, Any]] = {}
        self._shown: set[int] = set()  # ids of the infos shown as images in the text
        for info in self.attachments:
            for key in ("attachment_id", "media_id", "id"):
                if info.get(key) not in (None, ""):
                    self._by_id.setdefault(str(info[key]), info)
        # Original names first: a node's alt is the name the user uploaded.
        for key in ("original_filename", "filename"):
            for info in sorted(self.attachments, key=_upload_order):
                if info.get(key):
                    candidates = self._by_name.setdefault(str(info[key]), [])
                    if not any(candidate is info for candidate in candidates):
                        candidates.append(info)

    def resolve(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        """The attachment a media node's attrs refer to, or None."""
        for key in ("id", "attachmentId"):
            value = attrs.get(key)
            if value not in (None, "") and str(value) in self._by_id:
                return self._by_id[str(value)]
        for key in ("alt", "title", "__fileName", "fileName", "name"):
            value = attrs.get(key)
            if value and str(value) in self._by_name:
                return self._claim(str(value), attrs.get("id"))
        return None

    def _claim(self, name: str, media_id: Any) -> dict[str, Any]:
        candidates = self._by_name[name]
        if len(candidates) == 1 or media_id in (None, ""):
            return candidates[0]
        claim_key = (name, str(media_id))
        if claim_key not in self._claimed_by_media_id:
            taken = [info for (claimed_name, _), info in self._claimed_by_media_id.items() if claimed_name == name]
            unclaimed = [info for info in candidates if not any(info is other for other in taken)]
            self._claimed_by_media_id[claim_key] = (unclaimed or candidates)[0]
        return self._claimed_by_media_id[claim_key]

    def mark_shown(self, info: Mapping[str, Any]) -> None:
        """The text shows this attachment as an image (so the Attachments section need not)."""
        self._shown.add(id(info))

    def was_shown(self, info: Mapping[str, Any]) -> bool:
        return id(info) in self._shown

    def href(self, info: Mapping[str, Any]) -> str:
        """Relative, percent-encoded link from the issue file to the attachment's local file."""
        name = percent_encode_path_segment(str(info.get("filename") or info.get("original_filename") or ""))
        return f"{self.attachments_dir}/{name}" if self.attachments_dir else name

    @staticmethod
    def label(info: Mapping[str, Any]) -> str:
        return str(info.get("original_filename") or info.get("filename") or info.get("attachment_id") or "attachment")

    @staticmethod
    def is_image(info: Mapping[str, Any]) -> bool:
        mime = str(info.get("mime_type") or info.get("mimeType") or "").lower()
        if mime:
            return mime.startswith("image/")
        name = str(info.get("filename") or "").lower()
        return name.endswith((".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp"))
