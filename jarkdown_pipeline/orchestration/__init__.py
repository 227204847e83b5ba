"""The Dagster layer: resources, partitions, assets, checks, jobs and schedules (see definitions.py)."""
