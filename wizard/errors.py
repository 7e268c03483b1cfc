"""Errors a user can cause, carried to the surface as one clear line instead of a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: the message says what happened, the hint what to do."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message
