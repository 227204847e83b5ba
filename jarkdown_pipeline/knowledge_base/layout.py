"""Names of the knowledge base's folders (see the package's docstring for the layout)."""

STATE_DIR = ".jarkdown"
REMOVED_DIR = "_removed"
ATTACHMENTS_DIR = "attachments"
