"""Every name the Dagster layer shares: asset keys, group, pool, jobs, schedules, checks, sensors.

Assets, checks, jobs, schedules, tests and docs refer to these constants, never to each other.
"""

import dagster as dg

GROUP = "jira"
# Assets that call Jira take a slot of this pool (docs/DEPLOY.md sets its limit per deployment).
JIRA_POOL = "jira_api"

FIELDS = dg.AssetKey("jira_fields")
ISSUES = dg.AssetKey("jira_issues")
ATTACHMENTS = dg.AssetKey("jira_attachments")
MARKDOWN = dg.AssetKey("jira_markdown")
RECONCILIATION = dg.AssetKey("jira_reconciliation")
INDEX = dg.AssetKey("jira_index")
# The multi-asset that writes ISSUES, ATTACHMENTS and MARKDOWN in one step.
WINDOW_OP = "jira_window"

EVERY_ISSUE_HAS_ITS_FILE = "every_issue_has_its_file"
RELATIVE_LINKS_RESOLVE = "relative_links_resolve"
FRONTMATTER_PARSES = "frontmatter_parses_and_key_matches"
SECTIONS_COMPLETE = "every_section_complete"
INDEX_IS_COMPLETE = "index_is_complete"

JIRA_MARKDOWN_JOB = "jira_markdown_job"
JIRA_RECONCILIATION_JOB = "jira_reconciliation_job"
DAILY_SCHEDULE = "jira_daily_schedule"
HOURLY_SCHEDULE = "jira_hourly_schedule"
RECONCILIATION_SCHEDULE = "jira_reconciliation_schedule"
AUTOMATION_SENSOR = "jira_index_follows_sensor"

# Run records of a stage live this long under .jarkdown/runs/ (checks read them in the same run).
RUN_RECORD_MAX_AGE_SECONDS = 14 * 24 * 3600
