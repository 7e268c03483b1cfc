"""The interactive wizard (the default command)."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    print(
        "The interactive wizard is coming in the next release. Meanwhile, use the headless "
        "commands: entra-cert-wizard --help",
        file=sys.stderr,
    )
    return 0
