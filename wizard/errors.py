"""Errors a user can cause, carried to the surface as one clear line instead of a traceback."""

from __future__ import annotations

from typing import Literal

Input = Literal["name", "out", "passphrase"]
"""The inputs an error can blame, named as the command line names them (`--name`, `--out`,
`--passphrase-env`); the wizard shows the same inputs as fields of its Name step."""


class UserError(Exception):
    """Something the user can fix: the message says what happened, the hint what to do.

    `hint` is worded for the command line and may name its options. `option` says which input
    is at fault, so another interface (the wizard) words its own hint for that input instead
    of reading the command line's.
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        exit_code: int = 1,
        *,
        option: Input | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code
        self.option = option

    def __str__(self) -> str:
        return self.message
