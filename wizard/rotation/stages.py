"""The six stages of a rotation, in order, each with the title every interface shows.

Only this list names them: the profiles file checks a stored stage against it, the runner
walks it, `rotate --step` offers it and the Renew screen counts it. A leaf module (no imports
from the rest of the package), so the profile model and the command line can read it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Who does the work of a stage: the tool always, the user always, or the user unless the tool
# can reach the app registration itself: on the demo tenant (its portal API), or on any tenant
# once the app's object ID is known (the app rolls its own keys with Graph addKey/removeKey).
DoneBy = Literal["tool", "user", "user unless the app rolls its own keys"]
# Which private key a stage signs with: the new one (the test), the old one (the proof it is
# refused), or none.
KeyRole = Literal["new", "old"]


@dataclass(frozen=True)
class Stage:
    """One stage of a rotation: its name (stored in the profile), title, and what it needs."""

    name: str
    title: str
    done_by: DoneBy = "tool"
    signs_with: KeyRole | None = None
    needs_tenant: bool = False
    # The key that proves possession to Graph when the app rolls its own keys: the current
    # certificate adds the new one, the new certificate removes the old one.
    proves_with: KeyRole | None = None


STAGES: tuple[Stage, ...] = (
    Stage("generate", "Generate the new certificate"),
    Stage(
        "upload",
        "Upload it beside the old one",
        "user unless the app rolls its own keys",
        needs_tenant=True,
        proves_with="old",
    ),
    Stage("test", "Test the new certificate", signs_with="new", needs_tenant=True),
    Stage("switch", "Switch your script to it", "user"),
    Stage(
        "retire",
        "Remove the old one, prove it refused",
        "user unless the app rolls its own keys",
        signs_with="old",
        needs_tenant=True,
        proves_with="new",
    ),
    Stage("archive", "Archive the old files"),
)
STAGE_NAMES: tuple[str, ...] = tuple(stage.name for stage in STAGES)
ROTATION_DONE = "done"  # stored as the next stage once the rotation is finished
_BY_NAME = {stage.name: stage for stage in STAGES}


def stage_named(name: str) -> Stage:
    """The stage called `name` (KeyError for "done" or anything else)."""
    return _BY_NAME[name]


def stage_number(name: str) -> int:
    """1..6 for a stage name (7 for "done")."""
    return STAGE_NAMES.index(name) + 1 if name in STAGE_NAMES else len(STAGES) + 1


def stage_title(name: str, finished: str | None = None) -> str:
    """The stage's title; `finished` (else the name itself) for "done" or an unknown name."""
    stage = _BY_NAME.get(name)
    if stage is not None:
        return stage.title
    return finished if finished is not None else name


def asks_the_user(stage: Stage, *, demo: bool, rolls_itself: bool = False) -> bool:
    """True when only the user can do the stage's work, so it waits for their yes.

    `rolls_itself`: the app's object ID is known, so Graph's addKey/removeKey do the upload
    and the removal (on the demo tenant and on real ones alike)."""
    if stage.done_by == "user unless the app rolls its own keys":
        return not (demo or rolls_itself)
    return stage.done_by == "user"


def keys_needed(stage: Stage, *, rolls_itself: bool) -> tuple[KeyRole, ...]:
    """The private keys a stage opens: the one it signs in with, and the one that proves
    possession to Graph when the app rolls its own keys."""
    roles: list[KeyRole] = [stage.signs_with] if stage.signs_with else []
    if rolls_itself and stage.proves_with and stage.proves_with not in roles:
        roles.append(stage.proves_with)
    return tuple(roles)
