"""`python -m wizard` does what the `entra-cert-wizard` command does."""

from wizard.entry import run

raise SystemExit(run())
