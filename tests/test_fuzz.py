"""Hostile and careless input: every text field, CLI argument and file the user hands over.

Property tests (hypothesis, bounded so the file runs in well under 40 s) and hand-picked
file cases. None may crash (anything but UserError/SystemExit), hang, or write outside the
folder the user chose. Already covered elsewhere, not repeated here: tests/test_names.py
(names and stems), tests/test_inputs.py (pasted IDs and thumbprints, short arbitrary text),
tests/test_cli_generate_inspect.py (one bad certificate file of each kind for `inspect`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from wizard import certs, cli, inputs
from wizard.emulator import DemoInfo
from wizard.errors import UserError
from wizard.portal import PortalClient

FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck))
PASSPHRASE = "fuzz-Passphrase-2b7e"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Text a careless or hostile user can produce: any Unicode (controls, bidi marks, emoji,
# combining marks, NUL), long pastes, and pieces of real values glued together.
hostile_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=3000),
    st.lists(st.sampled_from([
        "{", "}", "-", " ", "\u200e", "\ufeff", "\x00", "\n", ":", "@", "https://", "/",
        "login.microsoftonline.com", "contoso.onmicrosoft.com", "common", "..", "%2e",
        "00000000-0000-0000-0000-000000000000", "A" * 40, "ü", "🙂", "\u202e", "\\",
    ]), max_size=40).map("".join),
)


# ------------------------------------------------------------------ the text normalisers


@settings(FUZZ, max_examples=150)
@given(hostile_text)
def test_normalisers_raise_only_user_errors_quickly_and_are_idempotent(text: str) -> None:
    checks = (
        (inputs.normalize_client_id, inputs.client_id_problem),
        (inputs.normalize_tenant, inputs.tenant_problem),
        (inputs.normalize_thumbprint, inputs.thumbprint_problem),
    )
    for normalize, problem in checks:
        started = time.perf_counter()
        try:
            value = normalize(text)
        except UserError as error:
            assert str(error) and problem(text) == str(error)
        else:
            assert problem(text) is None
            assert normalize(value) == value  # canonical forms are stable
        assert time.perf_counter() - started < 0.5, "a normaliser is slow on this input"
    with contextlib.suppress(UserError):
        assert GUID.fullmatch(inputs.normalize_client_id(text))
    with contextlib.suppress(UserError):
        assert re.fullmatch(r"[0-9A-F]{40}|[0-9A-F]{64}", inputs.normalize_thumbprint(text))
    with contextlib.suppress(UserError):
        tenant = inputs.normalize_tenant(text)
        assert tenant == tenant.strip().lower() and " " not in tenant


# ------------------------------------------------------------------ certificate, key and PFX bytes


@pytest.fixture(scope="module")
def real_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    generated = certs.generate_certificate("FuzzCert", days=30)
    key = generated.private_key
    return {
        "der": certs.cert_der(generated.certificate),
        "pem": certs.cert_pem(generated.certificate),
        "key": certs.key_pem(key, None),
        "encrypted key": certs.key_pem(key, PASSPHRASE.encode()),
        "pkcs1 key": key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()),
        "pfx": certs.pfx_bytes(key, generated.certificate, PASSPHRASE.encode(), "FuzzCert"),
    }


def mutated(data: bytes, data_strategy: st.DataObject) -> bytes:
    """Real bytes, damaged: truncated, bytes flipped, a slice duplicated or dropped."""
    kind = data_strategy.draw(st.sampled_from(["truncate", "flip", "splice", "drop", "pad"]))
    size = len(data)
    at = data_strategy.draw(st.integers(0, max(0, size - 1)))
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        count = data_strategy.draw(st.integers(1, 8))
        damaged = bytearray(data)
        for index in data_strategy.draw(st.lists(st.integers(0, size - 1), min_size=count,
                                                 max_size=count)):
            damaged[index] ^= data_strategy.draw(st.integers(1, 255))
        return bytes(damaged)
    if kind == "splice":
        end = data_strategy.draw(st.integers(at, size))
        return data[:end] + data[at:]
    if kind == "drop":
        end = data_strategy.draw(st.integers(at, size))
        return data[:at] + data[end:]
    return data + data_strategy.draw(st.binary(max_size=64))


def load_everything(data: bytes) -> None:
    """Every loader on these bytes: each may refuse, but only with a UserError."""
    for passphrase in (None, PASSPHRASE.encode(), b"wrong"):
        for load in (
            lambda: certs.load_certificate_bytes(data, "fuzz.cer"),
            lambda: certs.load_private_key_bytes(data, passphrase, "fuzz.key"),  # noqa: B023
            lambda: certs.load_pfx_bytes(data, passphrase, "fuzz.pfx"),  # noqa: B023
        ):
            with contextlib.suppress(UserError):
                load()


@settings(FUZZ, max_examples=120)
@given(st.data())
def test_damaged_real_files_are_refused_with_a_user_error_only(
    real_files: dict[str, bytes], data: st.DataObject
) -> None:
    original = real_files[data.draw(st.sampled_from(sorted(real_files)))]
    load_everything(mutated(original, data))


@settings(FUZZ, max_examples=60)
@given(st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda label, body: b"-----BEGIN " + label + b"-----\n" + body
              + b"\n-----END " + label + b"-----\n",
              st.sampled_from([b"CERTIFICATE", b"PRIVATE KEY", b"ENCRYPTED PRIVATE KEY",
                               b"RSA PRIVATE KEY", b"PKCS7", b"X"]),
              st.binary(max_size=600).map(lambda raw: __import__("base64").encodebytes(raw))),
))
def test_arbitrary_bytes_are_refused_with_a_user_error_only(data: bytes) -> None:
    load_everything(data)


# ------------------------------------------------------------------ the CLI, in-process


@contextlib.contextmanager
def chosen_folder(root: Path) -> Iterator[Path]:
    """Run from `root/a/b` with HOME and the tool's home inside `root`; yield the cwd."""
    cwd = root / "a" / "b"
    cwd.mkdir(parents=True, exist_ok=True)
    saved = {name: os.environ.get(name) for name in ("HOME", "ENTRA_CERT_WIZARD_HOME")}
    previous = Path.cwd()
    os.environ["HOME"] = str(root / "home")
    os.environ["ENTRA_CERT_WIZARD_HOME"] = str(root / "ecw")
    os.chdir(cwd)
    try:
        yield cwd
    finally:
        os.chdir(previous)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """`main(argv)` with stdout/stderr captured; SystemExit (argparse) is an answer too."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
    return code, out.getvalue(), err.getvalue()


def snapshot(folder: Path) -> set[str]:
    return {str(path) for path in folder.rglob("*")}


# Paths a user might type: relative, absolute inside the chosen folder, with `..`, `~`,
# odd characters; none of them reaches outside the test's folder (cwd is two levels deep).
path_piece = st.one_of(
    st.sampled_from(["out", "./out", "../out", "../../out", "~", "~/certs", "a b", "-", "",
                     ".", "..", "out/../out2", "con", "nul.txt", "x" * 200, "\u00fc\u00f1i",
                     "file.cer", "dir", "missing/deeper/x"]),
    st.text(alphabet=st.characters(exclude_characters="/\x00"), min_size=1, max_size=20),
)
typical_values = st.sampled_from([
    "365", "0", "-1", "3651", "99999999999999999999", "2048", "1024", "4096", "abc", "1e3",
    "ECW_FUZZ_PASS", "ECW_MISSING_VAR", "global", "usgov", "demo", "ScriptServer01",
    "contoso.onmicrosoft.com", "{6B1A7A34-53B6-4C5E-9E0A-0D8E4F2C3B11}\u200e",
    "6b1a7a34-53b6-4c5e-9e0a-0d8e4f2c3b11"])
# Mostly values a user would type, a third of the time anything at all.
flag_value = st.one_of(typical_values, typical_values, hostile_text.map(lambda t: t[:80]))


@st.composite
def cli_argv(draw: st.DrawFn, files: dict[str, str]) -> list[str]:
    command = draw(st.sampled_from(["generate", "inspect", "test", "profiles", "rotate"]))
    options = {
        "generate": ["--name", "--days", "--key-size", "--out", "--passphrase-env",
                     "--no-passphrase", "--force", "--json"],
        "inspect": ["--key", "--passphrase-env", "--json"],
        "test": ["--tenant", "--client-id", "--cert", "--key", "--pfx", "--passphrase-env",
                 "--no-negative", "--json", "--timeout", "--profile"],
        "profiles": ["--json"],
        "rotate": ["--step", "--days", "--confirm", "--abandon", "--json", "--passphrase-env"],
    }[command]
    argv = [command]
    if command in ("inspect", "rotate"):
        argv.append(draw(st.one_of(st.sampled_from(sorted(files.values())), path_piece)))
    if command == "generate" and draw(st.booleans()):
        argv += ["--name", draw(flag_value)]
    for flag in draw(st.lists(st.sampled_from(options), max_size=6)):
        argv.append(flag)
        if flag in ("--no-passphrase", "--force", "--json", "--no-negative", "--confirm",
                    "--abandon"):
            continue
        if flag in ("--out", "--cert", "--key", "--pfx"):
            argv.append(draw(st.one_of(st.sampled_from(sorted(files.values())), path_piece)))
        else:
            argv.append(draw(flag_value))
    if command == "test":
        # Never the real Microsoft: a closed local port, answered at once.
        argv += ["--authority-host", "https://127.0.0.1:9", "--graph-endpoint",
                 "https://127.0.0.1:9/graph", "--timeout", "2"]
    return argv


@st.composite
def plausible_argv(draw: st.DrawFn, files: dict[str, str]) -> list[str]:
    """Arguments that get past argparse and deep into the command, one hostile value each."""
    if draw(st.booleans()):
        argv = ["generate", "--name", draw(flag_value), "--out", draw(path_piece),
                *draw(st.sampled_from([["--no-passphrase"], ["--passphrase-env", "ECW_FUZZ_PASS"],
                                       ["--passphrase-env", draw(flag_value)]]))]
        return argv + draw(st.sampled_from([[], ["--force"], ["--json"], ["--days", "3650"]]))
    return ["test", "--cert", files["cert.pem"], "--key", files["plain.key"],
            "--tenant", draw(flag_value), "--client-id", draw(flag_value), "--no-negative",
            "--authority-host", "https://127.0.0.1:9", "--graph-endpoint",
            "https://127.0.0.1:9/graph", "--timeout", "2"]


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory, real_files: dict[str, bytes]) -> Path:
    root = tmp_path_factory.mktemp("fuzz-cli")
    (root / "a" / "b" / "dir").mkdir(parents=True)
    for name, data in (("file.cer", real_files["der"]), ("cert.pem", real_files["pem"]),
                       ("plain.key", real_files["key"]),
                       ("secret.key", real_files["encrypted key"]),
                       ("both.pfx", real_files["pfx"]), ("garbage.bin", bytes(range(256)))):
        (root / "a" / "b" / name).write_bytes(data)
    return root


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_main_with_generated_arguments_never_crashes_or_writes_elsewhere(
    fuzz_root: Path, data: st.DataObject
) -> None:
    files = {name: name for name in ("file.cer", "cert.pem", "plain.key", "secret.key",
                                     "both.pfx", "garbage.bin", "dir")}
    argv = data.draw(st.one_of(cli_argv(files), plausible_argv(files)))
    assume("--help" not in argv and "-h" not in argv)
    outside = fuzz_root.parent
    before_outside = {p.name for p in outside.iterdir()}
    os.environ["ECW_FUZZ_PASS"] = PASSPHRASE
    try:
        with chosen_folder(fuzz_root):
            before = snapshot(fuzz_root)
            code, stdout, stderr = run_main(argv)
            created = snapshot(fuzz_root) - before
    finally:
        os.environ.pop("ECW_FUZZ_PASS", None)
    event(f"{argv[0]} exit {code}")
    assert isinstance(code, int) and code in (0, 1, 2, 3, 4), (argv, code, stderr)
    assert "Traceback" not in stdout + stderr
    if code != 0:  # errors on stderr; `test` reports its failed steps on stdout
        assert (stderr if argv[0] != "test" else stderr + stdout).strip(), (argv, "say why")
    assert {p.name for p in outside.iterdir()} == before_outside, "wrote beside the folder"
    for path in created:  # everything new is inside the chosen folder, none of it partial
        assert Path(path).is_relative_to(fuzz_root)
        assert not Path(path).name.endswith(".tmp"), (argv, path)


def json_keys(document: object) -> list[str]:
    """Every key of a JSON document, at any depth."""
    if isinstance(document, dict):
        return [*document, *(key for value in document.values() for key in json_keys(value))]
    if isinstance(document, list):
        return [key for value in document for key in json_keys(value)]
    return []


@settings(FUZZ, max_examples=12)
@given(st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
            max_size=40),
    st.sampled_from(["\u00e9t\u00e9 \U0001f511", " leading and trailing ", "x" * 1024,
                     "x" * 1025, "=;'\"$(rm -rf /)`", "\u202eevil"]),
))
def test_any_passphrase_from_the_environment_round_trips_or_is_refused_clearly(
    tmp_path_factory: pytest.TempPathFactory, passphrase: str
) -> None:
    """generate --passphrase-env with any text: the key and the PFX open with exactly it."""
    out = tmp_path_factory.mktemp("passphrase")
    os.environ["ECW_FUZZ_PASS"] = passphrase
    try:
        code, stdout, stderr = run_main(["generate", "--name", "Pass", "--out", str(out),
                                         "--passphrase-env", "ECW_FUZZ_PASS", "--json"])
    finally:
        os.environ.pop("ECW_FUZZ_PASS", None)
    assert "Traceback" not in stdout + stderr
    if code != 0:
        assert code in (1, 2) and stderr.startswith("error: "), stderr
        assert passphrase not in stderr or len(passphrase) < 3  # never echoed back
        return
    secret = passphrase.encode("utf-8", "surrogateescape")
    key = certs.load_private_key_file(out / "Pass" / "Pass.key", secret)
    cert, pfx_key = certs.load_pfx_file(out / "Pass" / "Pass.pfx", secret)
    assert certs.key_matches_certificate(key, cert) and certs.key_matches_certificate(pfx_key, cert)
    # Never echoed; a passphrase that is itself part of what is always printed (a JSON key
    # such as "backup_folder", the output folder) proves nothing either way.
    always_printed = " ".join(json_keys(json.loads(stdout))) + " " + str(out)
    assert len(passphrase) < 6 or passphrase in always_printed or passphrase not in stdout


@settings(FUZZ, max_examples=60)
@given(st.binary(max_size=4096))
def test_inspect_any_file_content_answers_in_one_clear_line(
    tmp_path_factory: pytest.TempPathFactory, real_files: dict[str, bytes], content: bytes
) -> None:
    folder = tmp_path_factory.mktemp("inspect")
    target = folder / "input.cer"
    target.write_bytes(content)
    code, stdout, stderr = run_main(["inspect", str(target), "--passphrase-env", "ECW_NONE"])
    assert code in (0, 1)
    assert "Traceback" not in stdout + stderr
    if code == 1 and not stdout:
        assert stderr.startswith("error: ") and len(stderr.strip().splitlines()) <= 2


# ------------------------------------------------------------------ careless files, every command


@pytest.fixture(scope="module")
def careless_files(tmp_path_factory: pytest.TempPathFactory,
                   real_files: dict[str, bytes]) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("careless")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "real.pem").write_bytes(real_files["pem"])
    files = {
        "empty": root / "empty.cer",
        "binary": root / "binary.cer",
        "huge": root / "huge.cer",
        "truncated": root / "truncated.cer",
        "a directory": root / "folder.cer",
        "symlink to a certificate elsewhere": root / "link.pem",
        "dangling symlink": root / "dangling.pem",
        "symlink loop": root / "loop.pem",
        "symlink to /dev/zero": root / "zero.cer",
        "a named pipe nobody writes to": root / "pipe.cer",
    }
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(os.urandom(3000))
    files["huge"].write_bytes(b"-----BEGIN CERTIFICATE-----\n" + b"A" * (2 * 1024 * 1024))
    files["truncated"].write_bytes(real_files["der"][: len(real_files["der"]) // 2])
    files["a directory"].mkdir()
    files["symlink to a certificate elsewhere"].symlink_to(elsewhere / "real.pem")
    files["dangling symlink"].symlink_to(root / "nothing-here.pem")
    files["symlink loop"].symlink_to(files["symlink loop"])
    files["symlink to /dev/zero"].symlink_to("/dev/zero")
    os.mkfifo(files["a named pipe nobody writes to"])
    return files


CARELESS = ["empty", "binary", "huge", "truncated", "a directory",
            "symlink to a certificate elsewhere", "dangling symlink", "symlink loop",
            "symlink to /dev/zero", "a named pipe nobody writes to"]


@pytest.mark.parametrize("kind", CARELESS)
def test_careless_file_in_every_file_argument(
    kind: str, careless_files: dict[str, Path], real_files: dict[str, bytes], tmp_path: Path
) -> None:
    bad = str(careless_files[kind])
    good_cert, good_key = tmp_path / "good.pem", tmp_path / "good.key"
    good_cert.write_bytes(real_files["pem"])
    good_key.write_bytes(real_files["key"])
    closed = ["--authority-host", "https://127.0.0.1:9", "--graph-endpoint",
              "https://127.0.0.1:9/graph", "--tenant", "contoso.onmicrosoft.com",
              "--client-id", "00000000-0000-0000-0000-000000000001", "--timeout", "2"]
    uses = {
        "inspect FILE": ["inspect", bad],
        "inspect CERT --key FILE": ["inspect", str(good_cert), "--key", bad],
        "test --cert FILE": ["test", "--cert", bad, "--key", str(good_key), *closed],
        "test --key FILE": ["test", "--cert", str(good_cert), "--key", bad, *closed],
        "test --pfx FILE": ["test", "--pfx", bad, *closed],
        "test --ca-bundle FILE": ["test", "--cert", str(good_cert), "--key", str(good_key),
                                  "--ca-bundle", bad, *closed],
    }
    for use, argv in uses.items():
        started = time.monotonic()
        with watchdog(10):
            code, stdout, stderr = run_main(argv)
        shown = stdout + stderr
        assert "Traceback" not in shown, (use, shown)
        assert time.monotonic() - started < 10, use
        if kind == "symlink to a certificate elsewhere" and use == "inspect FILE":
            assert code == 0, shown  # a link to a real certificate is read through
            continue
        assert code != 0, (use, shown)
        assert stderr.startswith("error: ") or "Why:" in stdout, (use, shown)


@contextlib.contextmanager
def watchdog(seconds: int) -> Iterator[None]:
    """Turn a hang into a failure instead of a stuck test run."""
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"hung for {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_out_folder_that_is_a_file_or_a_planted_symlink(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("planted-target")
    (elsewhere / "precious.txt").write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "Planted").symlink_to(elsewhere)  # someone planted the certificate's folder name
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    for argv in (
        ["generate", "--name", "Planted", "--out", str(out), "--no-passphrase"],
        ["generate", "--name", "Planted", "--out", str(out), "--no-passphrase", "--force"],
        ["generate", "--name", "X", "--out", str(a_file), "--no-passphrase"],
        ["generate", "--name", "X", "--out", str(a_file / "below"), "--no-passphrase"],
    ):
        code, stdout, stderr = run_main(argv)
        assert "Traceback" not in stdout + stderr, argv
        assert code in (0, 1), (argv, stderr)
        # Whatever happened, nothing was written into the planted target.
        assert sorted(p.name for p in elsewhere.iterdir()) == ["precious.txt"], argv
        assert a_file.read_text() == "not a folder"


def test_unreadable_file_as_an_unprivileged_user(
    careless_files: dict[str, Path], real_files: dict[str, bytes], tmp_path: Path
) -> None:
    """chmod 000 does not stop root; drop to `nobody` in a forked child to test it for real."""
    if os.name != "posix" or os.geteuid() != 0:
        unreadable = tmp_path / "unreadable.pem"
        unreadable.write_bytes(real_files["pem"])
        unreadable.chmod(0)
        code, _, stderr = run_main(["inspect", str(unreadable)])
        assert code == 1 and "permission" in stderr
        return
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root and there is no 'nobody' user to drop privileges to")
    folder = Path(tempfile.mkdtemp(prefix="ecw-nobody-"))  # pytest's tmp is private to root
    try:
        folder.chmod(0o755)
        unreadable = folder / "unreadable.pem"
        unreadable.write_bytes(real_files["pem"])
        unreadable.chmod(0)
        report = inspect_as(nobody.pw_uid, nobody.pw_gid, unreadable, careless_files["empty"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    code_line, _, rest = report.partition("\n")
    assert code_line == "1", report
    assert "You do not have permission to read" in rest and "Traceback" not in rest


def inspect_as(uid: int, gid: int, target: Path, warm_up: Path) -> str:
    """`inspect target` in a forked child that dropped to uid/gid; its exit code and output."""
    run_main(["inspect", str(warm_up)])  # import everything before forking
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: never returns to pytest
        try:
            os.setgid(gid)
            os.setuid(uid)
            code, stdout, stderr = run_main(["inspect", str(target)])
            os.write(write_end, f"{code}\n{stdout}\n{stderr}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        report = reader.read().decode()
    os.waitpid(child, 0)
    return report


# ------------------------------------------------------------------ the screens' validators


hostile_field = st.one_of(hostile_text.map(lambda t: t[:500]),
                          st.sampled_from(["", " ", "0", "-5", "3650", "99999", "~", "/", "..",
                                           "\x00", "a" * 65,
                                           "00000000-0000-0000-0000-00000000000g"]))


async def type_and_submit(screen_type: str, values: list[str], tmp_path: Path) -> None:
    """Put each value in every text field of the step, press Next; the step stays alive."""
    from textual.app import App
    from textual.widgets import Input

    from screens.base import Nav, StepScreen
    from screens.ids import IdsScreen
    from screens.name import NameScreen
    from screens.widgets import Field
    from wizard.session import WizardState

    step: type[StepScreen] = {"name": NameScreen, "ids": IdsScreen}[screen_type]
    results: list[Nav | None] = []

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(step(WizardState(demo=False, out_dir=tmp_path)), results.append)

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        for value in values:
            if not isinstance(app.screen, step):
                app.push_screen(step(WizardState(demo=False, out_dir=tmp_path)), results.append)
                await pilot.pause()
            screen = app.screen
            fields = list(screen.query(Input))
            for field in fields:
                field.value = value
            fields[0].focus()
            await pilot.press(*[c for c in value[:12] if c.isascii() and c.isalnum()])
            await pilot.press("enter")
            await pilot.pause()
            assert app.is_running and app._exception is None
            if isinstance(app.screen, step):  # refused: the message is beside a field
                assert any(field.error for field in app.screen.query(Field)), value
    assert app._exception is None
    assert all(result in (Nav.NEXT, None) for result in results)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "a step wrote a file"


@settings(FUZZ, max_examples=5)
@given(st.sampled_from(["name", "ids"]), st.lists(hostile_field, min_size=4, max_size=4))
def test_name_and_ids_steps_survive_any_typed_text(
    tmp_path_factory: pytest.TempPathFactory, screen_type: str, values: list[str]
) -> None:
    folder = tmp_path_factory.mktemp("screens")
    asyncio.run(type_and_submit(screen_type, values, folder))


def test_hostile_names_never_open_a_socket_or_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ID checks are offline: no DNS lookup of whatever domain the user typed."""
    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("a validator went to the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for text in ("contoso.onmicrosoft.com", "x" * 5000 + ".com", "https://login.example/x",
                 "user@contoso.com", "\u202ecom.evil"):
        inputs.tenant_problem(text)
        inputs.client_id_problem(text)


# ------------------------------------------------------------------ the demo tenant's own inputs

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=5),
    max_leaves=12,
)
fault_like = st.fixed_dictionaries({}, optional={
    "kind": st.sampled_from(["accept-any", "delay", "status", "not-json", "reset",
                             "upload-propagation", "aadsts", "cloud-instance", "explode",
                             ""]) | json_values,
    "code": st.integers(-5, 99_999_999) | json_values,
    "instance": st.sampled_from(["microsoftonline.us", "partner.microsoftonline.cn", ""])
    | json_values,
    "endpoint": st.sampled_from(["token", "discovery", "graph", "any", "portal"]) | json_values,
    "seconds": json_values, "status": json_values, "retry_after": json_values,
    "count": json_values,
})


@settings(FUZZ, max_examples=150)
@given(st.one_of(fault_like, json_values))
def test_fault_descriptions_from_json_are_checked_not_crashed_on(data: object) -> None:
    from wizard.emulator.faults import Fault

    try:
        fault = Fault.from_json(data)
    except ValueError:
        return
    assert Fault.from_json(fault.to_json()) == fault


@settings(FUZZ, max_examples=30)
@given(st.one_of(st.binary(max_size=3000), st.builds(
    lambda body: b"-----BEGIN CERTIFICATE-----\n" + body + b"\n-----END CERTIFICATE-----\n",
    st.binary(max_size=800).map(lambda raw: __import__("base64").encodebytes(raw)))))
def test_portal_refuses_any_upload_that_is_not_a_certificate_and_keeps_serving(
    demo_info: DemoInfo, demo_portal: PortalClient, body: bytes
) -> None:
    with pytest.raises(UserError) as refused:
        demo_portal.upload_certificate(demo_info.client_id, body)
    assert str(refused.value) and "Traceback" not in str(refused.value)
    assert demo_portal.list_applications()  # still serving
