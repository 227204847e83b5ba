"""Entry points behind `make demo`, `make dev` and `make bench` (no Dagster import: they drive the CLI)."""
