"""Decides, deterministically, which requests fail and how (see FaultConfig)."""

import hashlib
from collections import Counter

from jarkdown_pipeline.sample_jira.config import FaultConfig

RATE_LIMITED = "rate_limited"
UNAVAILABLE = "unavailable"


def _fraction(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) for the given inputs."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class FaultInjector:
    def __init__(self, faults: FaultConfig, seed: int) -> None:
        self.faults = faults
        self.seed = seed
        self.request_count = 0
        self.download_attempts: Counter[int] = Counter()
        self._bulkfetch_errors_served: set[str] = set()

    def next_api_request(self) -> str | None:
        """Number the next API request; say whether it fails (RATE_LIMITED, UNAVAILABLE) or not (None)."""
        self.request_count += 1
        number = self.request_count
        faults = self.faults
        for start, count in faults.unavailable_bursts:
            if start <= number < start + count:
                return UNAVAILABLE
        if number in faults.rate_limit_requests:
            return RATE_LIMITED
        if faults.rate_limit_rate and _fraction(self.seed, "429", number) < faults.rate_limit_rate:
            return RATE_LIMITED
        return None

    def retry_after_header(self) -> str:
        seconds = self.faults.retry_after_seconds
        return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"

    def cut_download_at(self, attachment_id: int, start: int, end: int) -> int | None:
        """Count a download attempt; the byte offset to cut the connection at, or None."""
        self.download_attempts[attachment_id] += 1
        faults = self.faults
        chosen = attachment_id in faults.cut_download_attachment_ids or (
            faults.cut_download_rate and _fraction(self.seed, "cut", attachment_id) < faults.cut_download_rate
        )
        if not chosen or self.download_attempts[attachment_id] > faults.cut_download_attempts or end <= start:
            return None
        return start + int((end - start) * faults.cut_after_fraction)

    def is_vanished(self, key: str) -> bool:
        return key.upper() in self.faults.vanished_issue_keys

    def take_bulkfetch_error(self, key: str) -> bool:
        """True the first time a bulkfetch asks for one of `bulkfetch_error_keys`."""
        key = key.upper()
        if key in self.faults.bulkfetch_error_keys and key not in self._bulkfetch_errors_served:
            self._bulkfetch_errors_served.add(key)
            return True
        return False

    def drops_pages_of(self, key: str) -> bool:
        """Whether the paged comments, worklogs and changelog of this issue lose a page."""
        return key.upper() in self.faults.dropped_page_issue_keys
