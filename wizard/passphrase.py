"""Passphrases come from an environment variable or an interactive prompt, never from argv.

A command line is visible to every user of the machine (`ps`) and lands in shell history;
an environment variable or a no-echo prompt is not.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from typing import TypeVar

from wizard.certs import PassphraseNeeded, WrongPassphrase
from wizard.errors import UserError
from wizard.names import passphrase_problem, weak_passphrase_warning
from wizard.shown import shown

T = TypeVar("T")
PROMPT_ATTEMPTS = 3
NO_TTY_HINT = (
    "Put the passphrase in an environment variable and pass --passphrase-env VAR "
    "(for example: read -rs CERT_PASS && export CERT_PASS)"
)


def stdin_is_interactive() -> bool:
    """True when a person can answer a prompt (stdin is a terminal)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def passphrase_from_env(var: str) -> bytes:
    """The passphrase held by environment variable `var`, as UTF-8 bytes."""
    value = os.environ.get(var)
    if value is None:
        raise UserError(
            f"The environment variable {var} is not set, so there is no passphrase to use.",
            hint=f"Set it first (read -rs {var} && export {var}), or check its name.",
            exit_code=2,
            option="passphrase",
        )
    if not value:
        raise UserError(
            f"The environment variable {var} is empty.",
            hint=f"Put the passphrase in {var}, or leave out --passphrase-env.",
            exit_code=2,
            option="passphrase",
        )
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        # The variable holds bytes that are not UTF-8 (kept as surrogates by Python): the
        # error would show one of them, so it is reported without any.
        raise UserError(
            f"The environment variable {var} holds bytes that are not UTF-8 text.",
            hint=f"Set {var} again from a UTF-8 terminal (read -rs {var} && export {var}).",
            exit_code=2,
            option="passphrase",
        ) from None


def _typed(text: str) -> bytes:
    """A typed passphrase as UTF-8; undecodable input is refused without showing it."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(
            "The passphrase typed is not UTF-8 text.",
            hint="Set the terminal to UTF-8 and type it again.",
            option="passphrase",
        ) from None


def warn_if_weak(passphrase: bytes | None) -> None:
    """Print the weak-passphrase warning on stderr (a warning: the passphrase is still used)."""
    warning = weak_passphrase_warning(passphrase) if passphrase else None
    if warning:
        print(f"warning: {warning}", file=sys.stderr)


def _ask(prompt: str) -> str:
    try:
        return getpass.getpass(shown(prompt))  # written to the terminal itself: a file name is outside text
    except EOFError:
        raise UserError(
            "No passphrase was typed (end of input).", hint=NO_TTY_HINT, option="passphrase"
        ) from None


def ask_new_passphrase(*, attempts: int = PROMPT_ATTEMPTS) -> bytes:
    """Prompt twice (no echo) for a new passphrase until both entries agree."""
    for _ in range(attempts):
        first = _ask("Passphrase for the new private key: ")
        second = _ask("Type it again to confirm: ")
        problem = passphrase_problem(first, second)
        if problem is None:
            return _typed(first)
        print(problem, file=sys.stderr)
    raise UserError(
        "No passphrase was agreed on.",
        hint="Try again, or use --passphrase-env VAR or --no-passphrase.",
        option="passphrase",
    )


def ask_passphrase(prompt: str) -> bytes:
    """Prompt once (no echo) for the passphrase of an existing file."""
    return _typed(_ask(prompt))


def passphrase_for_new_key(passphrase_env: str | None, no_passphrase: bool) -> bytes | None:
    """The passphrase for a key about to be written: env var, explicit none, or a prompt."""
    if passphrase_env:
        passphrase = passphrase_from_env(passphrase_env)
        problem = passphrase_problem(passphrase, passphrase)
        if problem:
            raise UserError(f"{passphrase_env}: {problem}", exit_code=2, option="passphrase")
        warn_if_weak(passphrase)
        return passphrase
    if no_passphrase:
        return None
    if stdin_is_interactive():
        passphrase = ask_new_passphrase()
        warn_if_weak(passphrase)
        return passphrase
    raise UserError(
        "A passphrase is needed to protect the private key, and there is no terminal to ask.",
        hint="Use --passphrase-env VAR (the passphrase in an environment variable), "
        "or --no-passphrase to rely on file permissions alone.",
        exit_code=2,
        option="passphrase",
    )


def open_with_passphrase(
    opener: Callable[[bytes | None], T], passphrase_env: str | None, what: str
) -> T:
    """Run `opener(passphrase)` for an encrypted file, finding the passphrase the usual way.

    With `passphrase_env` that passphrase is used, once. Otherwise the file is tried without
    a passphrase, then (only at a terminal) the user is asked, up to three times.
    `opener` raises `PassphraseNeeded` / `WrongPassphrase` (as `wizard.certs` loaders do).
    """
    if passphrase_env:
        return opener(passphrase_from_env(passphrase_env))
    try:
        return opener(None)
    except PassphraseNeeded as needed:
        if not stdin_is_interactive():
            raise UserError(str(needed), hint=NO_TTY_HINT, option="passphrase") from None
    for attempt in range(1, PROMPT_ATTEMPTS + 1):
        try:
            return opener(ask_passphrase(f"Passphrase for {what}: "))
        except (PassphraseNeeded, WrongPassphrase) as error:
            if attempt == PROMPT_ATTEMPTS:
                raise UserError(str(error), hint=error.hint, option="passphrase") from None
            print("That passphrase does not open it; try again.", file=sys.stderr)
    raise AssertionError("unreachable")
