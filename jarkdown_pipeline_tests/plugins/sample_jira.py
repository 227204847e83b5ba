"""Fixtures that run the bundled sample Jira on free loopback ports (filled in with the sample Jira)."""
