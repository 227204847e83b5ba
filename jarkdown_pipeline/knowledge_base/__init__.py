"""The knowledge base on disk: every read and write of the output folder, and its verification.

Layout (see docs/ARCHITECTURE.md)::

    index.md                          one row per issue
    ABC-1/ABC-1.md                    the issue
    ABC-1/attachments/<local name>    its attachments
    .jarkdown/fields.json             field definitions (/rest/api/3/field)
    .jarkdown/raw/ABC-1.json          the complete issue JSON as fetched
    .jarkdown/attachments/ABC-1.json  manifest of its downloaded attachments
    .jarkdown/runs/<run id>/<stage>.json  what each stage of a run did (passed between processes)
    _removed/...                      issues no longer in scope, same layout

Every write is atomic (temporary file in the same folder, then ``os.replace``) and happens only when
the content differs, so re-running an unchanged partition rewrites nothing. No Dagster import: the
Dagster layer calls in here, and these functions are tested on their own.

The package, by concern: ``storage`` (KnowledgeBase: paths, raw issues, attachments, Markdown, index,
run records, reconciliation moves), ``render_cache`` (RenderOptions, the renderer's fingerprint,
rendering only what changed), ``locking`` (the cross-process lock), ``links`` (link targets),
``verification`` (what the asset checks call), ``files`` and ``layout`` (small shared pieces).
"""

from jarkdown_pipeline.knowledge_base.files import (
    STORE_BATCH,
    batched,
    parse_frontmatter_block,
    parse_jira_timestamp,
    write_bytes_if_changed,
    write_text_if_changed,
)
from jarkdown_pipeline.knowledge_base.layout import ATTACHMENTS_DIR, REMOVED_DIR, STATE_DIR
from jarkdown_pipeline.knowledge_base.links import (
    BrokenLink,
    candidate_link_targets,
    is_relative_link,
    markdown_link_targets,
)
from jarkdown_pipeline.knowledge_base.render_cache import (
    RENDER_RECORD_FIELDS,
    RENDER_RECORD_VERSION,
    KnownKeys,
    RenderInputs,
    RenderOptions,
    content_digest,
    mention_pattern,
    project_mention_pattern,
    renderer_fingerprint,
)
from jarkdown_pipeline.knowledge_base.storage import KnowledgeBase, StagedRawIssue
from jarkdown_pipeline.knowledge_base.verification import FrontmatterProblem
from jarkdown_pipeline.markdown.frontmatter import FrontmatterError

__all__ = [
    "ATTACHMENTS_DIR",
    "REMOVED_DIR",
    "RENDER_RECORD_FIELDS",
    "RENDER_RECORD_VERSION",
    "STATE_DIR",
    "STORE_BATCH",
    "BrokenLink",
    "FrontmatterError",
    "FrontmatterProblem",
    "KnowledgeBase",
    "StagedRawIssue",
    "KnownKeys",
    "RenderInputs",
    "RenderOptions",
    "batched",
    "candidate_link_targets",
    "content_digest",
    "is_relative_link",
    "markdown_link_targets",
    "mention_pattern",
    "parse_frontmatter_block",
    "parse_jira_timestamp",
    "project_mention_pattern",
    "renderer_fingerprint",
    "write_bytes_if_changed",
    "write_text_if_changed",
]
