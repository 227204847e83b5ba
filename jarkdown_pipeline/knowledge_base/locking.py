"""The knowledge base's cross-process lock (a file lock, reentrant per object and thread)."""

import contextlib
from dataclasses import dataclass

try:  # POSIX: advisory locks shared by every process on the machine (and over NFSv4)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


@dataclass
class _LockDepth:
    """How many ``KnowledgeBase.lock()`` one thread holds on one object (0: it does not hold it)."""

    depth: int = 0


class LockingMixin:
    """The lock of KnowledgeBase."""

    # -- cross-process lock --------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self):
        """Exclusive lock over the knowledge base for stages that read it and then write from what
        they read (Markdown with its links, the index, reconciliation). Reentrant per object and
        thread: an inner ``with kb.lock()`` of the thread holding it is a no-op (opening the state
        store may take it). The outermost call opens the lock file anew, so other threads, objects
        and processes exclude each other.
        """
        holder = self._lock_holder()  # this thread's, kept: the exit may run in another thread
        if holder.depth:
            holder.depth += 1
            try:
                yield
            finally:
                holder.depth -= 1
            return
        lock_path = self.checked(self.state_dir / "lock")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            holder.depth = 1
            try:
                yield
            finally:
                holder.depth = 0
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _lock_holder(self) -> "_LockDepth":
        holder = getattr(self._lock_holders, "holder", None)
        if holder is None:
            holder = self._lock_holders.holder = _LockDepth()
        return holder
