"""How many examples a property test tries: its own count, times ``JARKDOWN_FUZZ_SCALE`` (default 1).

A local hunt for rare failures raises it for one run without changing any test's default:

    JARKDOWN_FUZZ_SCALE=50 .venv/bin/pytest -q -p no:cacheprovider --timeout=0 --hypothesis-seed=7 \
        jarkdown_pipeline_tests/unit/test_render_fuzz.py

(``--timeout=0``: the suite's per-test timeout would otherwise end a long hunt as a failure.)

Each example a hunt finds becomes a plain regression example (unit/test_escape_regressions.py).
"""

import os


def examples(count: int) -> int:
    """``count`` scaled by ``JARKDOWN_FUZZ_SCALE`` (a positive number; anything else counts as 1)."""
    try:
        scale = float(os.environ.get("JARKDOWN_FUZZ_SCALE", "1"))
    except ValueError:
        scale = 1.0
    return max(1, round(count * scale)) if scale > 0 else count
