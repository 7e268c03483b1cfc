"""The workshop folder: who sits where, and how an attendee gets a seat (or theirs back).

    workshop.json        the room's facts for the seats: the demo tenant (without its admin
                         token), one app per seat with its own portal token, the join code's hash
    claims.json          the seats taken: display name, the seat token's hash, when
    wrong_codes.json     how many wrong join codes (or seat tokens) were typed, and when
    seats/N/home/        the seat's ENTRA_CERT_WIZARD_HOME (its certificates and profiles)
    seats/N/status.json  where the seat's wizard is (see status.py)
    seats/N/live.lock    held (flock) by the seat's wizard process while it runs

A seat token ("3-ABCD-EFGH") is shown once to the attendee who takes the seat; with the join
code it gets the seat back after a reload. Only its SHA-256 is kept, so a token cannot be
forged from the folder, and a token for a seat that is open in another window is refused, so
a replayed token cannot take a seat away from the browser using it.

Guessing is bounded room-wide: every browser connection is a process of its own, so a
guesser opening many cannot be slowed per connection alone. After WRONG_TRIES_PER_WINDOW
wrong codes or tokens within WRONG_TRIES_WINDOW_SECONDS the room checks no code until the
oldest of them has left the window (at most about 30 a minute: a default code of 6 of 31
characters, 30 bits, would take years to guess). The price: someone hammering the room also
keeps honest attendees waiting, which the trainer sees as a climbing count of wrong codes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.clock import utc_now
from wizard.errors import UserError
from wizard.reading import read_regular_file
from wizard.storage import atomic_write, ensure_private_dir

if TYPE_CHECKING:
    from wizard.emulator import DemoInfo

WORKSHOP_FILE = "workshop.json"
CLAIMS_FILE = "claims.json"
MAX_ROOM_FILE_BYTES = 1024 * 1024
MAX_NAME_LENGTH = 40
MAX_SEATS = 100
# No 0/O, 1/I/L: codes and tokens are read off a projector and typed by hand.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 6
WRONG_CODES_FILE = "wrong_codes.json"
WRONG_TRIES_PER_WINDOW = 30
WRONG_TRIES_WINDOW_SECONDS = 60.0
_TOKEN = re.compile(r"^(\d{1,3})-([A-Z0-9]{4})-?([A-Z0-9]{4})$")


class JoinRefused(UserError):
    """A join the room said no to (wrong code, unknown token, seat busy, room full)."""


@dataclass(frozen=True)
class WrongTries:
    """Wrong join codes and seat tokens typed in this room: in all, and whether joins wait."""

    total: int = 0
    recent: tuple[float, ...] = ()  # when (epoch seconds), within the window

    def paused_for(self, now: float) -> float:
        """Seconds until the room checks codes again (0: it does now)."""
        recent = [t for t in self.recent if now - t < WRONG_TRIES_WINDOW_SECONDS]
        if len(recent) < WRONG_TRIES_PER_WINDOW:
            return 0.0
        return WRONG_TRIES_WINDOW_SECONDS - (now - recent[-WRONG_TRIES_PER_WINDOW])


@dataclass(frozen=True)
class SeatApp:
    """A seat's app registration in the demo tenant, and the token scoping its portal calls."""

    number: int
    client_id: str
    app_name: str
    consented: bool
    portal_token: str
    admin_user: str  # the seat's own admin (UPN): its roles reach this seat's apps only


@dataclass(frozen=True)
class SeatClaim:
    """A taken seat. `token` is set only when the seat was just taken (shown once)."""

    number: int
    name: str
    joined_at: str
    token: str | None = None


def new_join_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def _new_seat_token(number: int) -> str:
    secret = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{number}-{secret[:4]}-{secret[4:]}"


def _normalized(text: str) -> str:
    """A typed code or token: case, spaces and a missing dash do not matter."""
    return re.sub(r"\s+", "", text).upper()


def _digest(text: str) -> str:
    return hashlib.sha256(_normalized(text).encode("utf-8")).hexdigest()


def display_name_problem(name: str) -> str | None:
    """What is wrong with a display name, or None. Any characters are kept (shown escaped)."""
    if not name.strip():
        return "Type a display name, so the trainer knows who is at this seat."
    if len(name.strip()) > MAX_NAME_LENGTH:
        return f"Keep the display name to {MAX_NAME_LENGTH} characters."
    return None


class Room:
    """A workshop folder: `Room.create` once (the workshop command), then `Room(folder)`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._live_fd: int | None = None
        self._facts: dict[str, Any] | None = None  # workshop.json never changes once written

    # -- creation and facts ----------------------------------------------------------------

    @classmethod
    def create(
        cls, folder: Path, info: DemoInfo, apps: list[SeatApp], join_code: str
    ) -> Room:
        ensure_private_dir(folder)
        tenant = {**info.to_json(), "admin_token": None}  # the admin token stays in memory
        record = {
            "tenant": tenant,
            "seats": [asdict(app) for app in apps],
            "join_code_sha256": _digest(join_code) if join_code else None,
        }
        room = cls(folder)
        atomic_write(folder / WORKSHOP_FILE, json.dumps(record, indent=2).encode("utf-8"))
        atomic_write(folder / CLAIMS_FILE, b"{}\n")
        for app in apps:
            ensure_private_dir(room.seat_home(app.number))
        return room

    def _read_json(self, name: str) -> Any:
        path = self.folder / name
        try:
            return json.loads(read_regular_file(path, what="workshop file", limit=MAX_ROOM_FILE_BYTES))
        except (OSError, ValueError, UserError) as error:
            raise UserError(
                f"The workshop folder {self.folder} cannot be read ({name}: {error}).",
                hint="Ask the trainer to restart the workshop.",
            ) from None

    def _record(self) -> dict[str, Any]:
        if self._facts is None:
            record = self._read_json(WORKSHOP_FILE)
            if not isinstance(record, dict):
                raise UserError(f"The workshop file {self.folder / WORKSHOP_FILE} is damaged.")
            self._facts = record
        return self._facts

    def seat_apps(self) -> list[SeatApp]:
        return [SeatApp(**seat) for seat in self._record()["seats"]]

    def seat_app(self, number: int) -> SeatApp:
        for app in self.seat_apps():
            if app.number == number:
                return app
        raise JoinRefused(f"This workshop has no seat {number}.")

    def needs_code(self) -> bool:
        return self._record().get("join_code_sha256") is not None

    def seat_dir(self, number: int) -> Path:
        return self.folder / "seats" / str(number)

    def seat_home(self, number: int) -> Path:
        return self.seat_dir(number) / "home"

    def seat_info(self, number: int) -> DemoInfo:
        """The demo tenant as the seat's wizard sees it: its own app, its own portal token."""
        from wizard.emulator import DemoInfo

        app = self.seat_app(number)
        info = DemoInfo(**self._record()["tenant"])
        return replace(
            info,
            client_id=app.client_id,
            app_name=app.app_name,
            unconsented_client_id=app.client_id,
            unconsented_app_name=app.app_name,
            admin_token=app.portal_token,
            admin_user=app.admin_user,
        )

    # -- claims ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def claims(self) -> dict[int, SeatClaim]:
        raw = self._read_json(CLAIMS_FILE)
        if not isinstance(raw, dict):
            return {}
        return {
            int(number): SeatClaim(int(number), str(claim["name"]), str(claim["joined_at"]))
            for number, claim in raw.items()
        }

    def _claim_hashes(self) -> dict[str, dict[str, str]]:
        raw = self._read_json(CLAIMS_FILE)
        return raw if isinstance(raw, dict) else {}

    def join(self, code: str, name: str = "", token: str = "") -> SeatClaim:
        """Take a free seat (name) or get one's own back (token); this process then holds it.

        JoinRefused says why not: wrong code, a token this room never gave out, the seat open
        in another window, or no seat free.
        """
        with self._locked():
            expected = self._record().get("join_code_sha256")
            now = utc_now().timestamp()
            paused = self.wrong_tries().paused_for(now) if expected is not None else 0.0
            if paused > 0:
                raise JoinRefused(
                    f"This workshop is not taking join codes for {math.ceil(paused)} s: too many "
                    "wrong codes were typed.",
                    hint="Wait, then type the code again; if this goes on, tell the trainer.",
                )
            if expected is not None and not hmac.compare_digest(_digest(code), str(expected)):
                self._count_wrong_try(now)
                raise JoinRefused(
                    "That join code is not this workshop's.",
                    hint="Type the code shown on the trainer's screen.",
                )
            raw_claims = self._claim_hashes()
            if token.strip():
                return self._rejoin(token, raw_claims, now)
            problem = display_name_problem(name)
            if problem is not None:
                raise JoinRefused(problem)
            taken = {int(n) for n in raw_claims}
            # A seat just reset may still have its old wizard closing: it is skipped.
            free = (app.number for app in self.seat_apps() if app.number not in taken)
            number = next((n for n in free if self._hold(n)), None)
            if number is None:
                raise JoinRefused(
                    "Every seat in this workshop is taken.",
                    hint="Ask the trainer to free a seat, or to start the workshop with more seats.",
                )
            new_token = _new_seat_token(number)
            claim = SeatClaim(number, name.strip(), utc_now().isoformat(), new_token)
            raw_claims[str(number)] = {
                "name": claim.name,
                "joined_at": claim.joined_at,
                "token_sha256": _digest(new_token),
            }
            self._write_claims(raw_claims)
            return claim

    def _rejoin(self, token: str, raw_claims: dict[str, dict[str, str]], now: float) -> SeatClaim:
        # Spaces stand for dashes ("3 abcd efgh"); the seat number needs one or the other.
        match = _TOKEN.match(re.sub(r"[\s-]+", "-", token.strip()).upper())
        claim = raw_claims.get(match.group(1)) if match else None
        canonical = "-".join(match.groups()) if match else ""
        if claim is None or not hmac.compare_digest(_digest(canonical), claim["token_sha256"]):
            self._count_wrong_try(now)
            raise JoinRefused(
                "That seat token is not one this workshop gave out.",
                hint="Type it as shown when you joined (like 3-ABCD-EFGH), or leave it empty "
                "and join with your name for a new seat.",
            )
        assert match is not None
        number = int(match.group(1))
        if not self._hold(number):
            raise JoinRefused(
                f"Seat {number} is open in another browser window.",
                hint="Close that window first (a dropped connection frees the seat in a few "
                "seconds), then try again.",
            )
        return SeatClaim(number, claim["name"], claim["joined_at"])

    def wrong_tries(self) -> WrongTries:
        """The room's count of wrong codes and tokens (an unreadable record counts as none)."""
        try:
            raw = self._read_json(WRONG_CODES_FILE)
            return WrongTries(int(raw["total"]), tuple(float(t) for t in raw["recent"]))
        except (UserError, LookupError, TypeError, ValueError):
            return WrongTries()

    def _count_wrong_try(self, now: float) -> None:
        """Called with the room locked."""
        tries = self.wrong_tries()
        recent = [t for t in tries.recent if now - t < WRONG_TRIES_WINDOW_SECONDS] + [now]
        record = {"total": tries.total + 1, "recent": recent[-WRONG_TRIES_PER_WINDOW:]}
        atomic_write(self.folder / WRONG_CODES_FILE, json.dumps(record).encode("utf-8"),
                     sync_folder=False)

    def _write_claims(self, raw_claims: dict[str, Any]) -> None:
        atomic_write(self.folder / CLAIMS_FILE, json.dumps(raw_claims, indent=2).encode("utf-8"))

    def _hold(self, number: int) -> bool:
        """Hold the seat's live lock for as long as this process runs; False when held elsewhere."""
        import fcntl

        ensure_private_dir(self.seat_dir(number))
        fd = os.open(self.seat_dir(number) / "live.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        if self._live_fd is not None:
            os.close(self._live_fd)
        self._live_fd = fd
        return True

    def leave(self) -> None:
        """Let go of the seat this process holds (a process's end does the same)."""
        if self._live_fd is not None:
            os.close(self._live_fd)
            self._live_fd = None

    def is_live(self, number: int) -> bool:
        """Whether a wizard process holds the seat now."""
        import fcntl

        path = self.seat_dir(number) / "live.lock"
        if not path.exists():
            return False
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)
        return False

    def free_seat(self, number: int) -> None:
        """Forget who sat there and everything they made (the trainer's reset)."""
        import shutil

        with self._locked():
            raw_claims = self._claim_hashes()
            raw_claims.pop(str(number), None)
            self._write_claims(raw_claims)
            shutil.rmtree(self.seat_home(number), ignore_errors=True)
            (self.seat_dir(number) / "status.json").unlink(missing_ok=True)
            ensure_private_dir(self.seat_home(number))
