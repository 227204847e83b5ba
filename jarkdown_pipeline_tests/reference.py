"""Where the shared reference material is: ``../shared/reference`` beside the checkout (as CI lays it
out), or ``JARKDOWN_REFERENCE_DIR``. It is never copied into the project; tests that need it skip
when it is absent."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = Path(os.environ.get("JARKDOWN_REFERENCE_DIR") or REPO_ROOT.parent / "shared" / "reference")
