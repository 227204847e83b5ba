"""Small file-system helpers shared by the knowledge base and the attachment handler."""

import os


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
