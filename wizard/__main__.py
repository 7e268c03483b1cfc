"""`python -m wizard` does what the `entra-cert-wizard` command does."""

from wizard.cli import main

raise SystemExit(main())
