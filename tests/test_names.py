"""Names, stems and the other typed values: never a crash, always a safe file name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wizard import certs, names

SAFE_STEM = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{d}{n}" for d in ("COM", "LPT") for n in "123456789"
}
# Text with the characters that make file names dangerous, mixed into ordinary ones.
PIECES = [*'/\\.:*?"<>|\x00\x1f\x7f \t\n', "..", "CON", "nul", "COM1", "\u200b", "Été"]
nasty_text = st.lists(st.one_of(st.characters(), st.sampled_from(PIECES)), max_size=40).map("".join)


def assert_safe_stem(stem: str) -> None:
    assert SAFE_STEM.match(stem), stem
    assert ".." not in stem
    assert not stem.endswith((".", " "))
    assert len(stem) <= 64
    assert stem.split(".")[0].upper() not in WINDOWS_RESERVED


@given(nasty_text)
@settings(max_examples=400, deadline=None)
def test_file_stem_is_always_safe(name: str) -> None:
    assert_safe_stem(names.file_stem_for(name))


@given(nasty_text)
@settings(max_examples=400, deadline=None)
def test_name_validation_never_crashes_and_accepted_names_are_sane(name: str) -> None:
    problem = names.certificate_name_problem(name)
    if problem is None:
        assert 1 <= len(name) <= 64
        assert name.isprintable() and name == name.strip()
    else:
        assert problem.endswith(".") and len(problem) < 200


@given(
    st.text(min_size=1, max_size=64).filter(lambda n: names.certificate_name_problem(n) is None)
)
@settings(max_examples=15, deadline=None)
def test_every_accepted_name_makes_a_certificate(name: str) -> None:
    cert = certs.generate_certificate(name).certificate
    assert certs.subject_cn(cert) == name


@given(nasty_text)
@settings(max_examples=100, deadline=None)
def test_stem_is_a_real_file_name_in_its_folder(
    tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    folder = tmp_path_factory.getbasetemp()
    path = folder / f"{names.file_stem_for(name)}.cer"
    assert path.parent == folder
    path.write_bytes(b"x")
    assert path.resolve().parent == folder.resolve()
    path.unlink()


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("ScriptServer01", "ScriptServer01"),
        ("Script Server 01", "Script_Server_01"),
        ("Serveur-Été", "Serveur-Ete"),
        ("../../etc/passwd", "etc_passwd"),
        ("a/b\\c", "a_b_c"),
        ("CON", "cert-CON"),
        ("nul.txt", "cert-nul.txt"),
        ("com1", "cert-com1"),
        ("trailing.", "trailing"),
        ("-rf", "rf"),
        ("app..name", "app.name"),
        ("CON." + "x" * 63, "cert-CON." + "x" * 55),
    ],
)
def test_stem_examples(name: str, stem: str) -> None:
    assert names.file_stem_for(name) == stem


def test_names_without_any_safe_character_get_distinct_stems() -> None:
    first, second = names.file_stem_for("证书"), names.file_stem_for("密钥")
    assert first.startswith("certificate-") and second.startswith("certificate-")
    assert first != second


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "Enter a certificate name"),
        (" padded", "starts or ends with a space"),
        ("x" * 65, "65 characters long"),
        ("tab\there", "U+0009"),
        ("zero\u200bwidth", "U+200B ZERO WIDTH SPACE"),
        ("bell\x07", "position 5"),
    ],
)
def test_name_messages_say_what_is_wrong(name: str, words: str) -> None:
    problem = names.certificate_name_problem(name)
    assert problem is not None and words in problem


def test_name_accepts_ordinary_names() -> None:
    for name in (
        "ScriptServer01",
        "Contoso backup job (prod)",
        "Serveur-Été",
        "x" * 64,
        "CN=odd,but ok",
    ):
        assert names.certificate_name_problem(name) is None


@pytest.mark.parametrize("value", [1, 365, 3650, "365", " 730 "])
def test_days_accepted(value: object) -> None:
    assert names.days_problem(value) is None


@pytest.mark.parametrize("value", [0, 3651, -1, "", "abc", "1e3", "٣٦٥", True, 365.0, None])
def test_days_refused(value: object) -> None:
    assert "1 to 3650" in (names.days_problem(value) or "")


@pytest.mark.parametrize("value", [2048, 3072, 4096, "4096"])
def test_key_sizes_accepted(value: object) -> None:
    assert names.key_size_problem(value) is None


@pytest.mark.parametrize("value", [1024, 2049, 8192, "big", None, False])
def test_key_sizes_refused(value: object) -> None:
    assert "2048" in (names.key_size_problem(value) or "")


def test_passphrase_rules() -> None:
    assert names.passphrase_problem("s3cret", "s3cret") is None
    assert names.passphrase_problem(b"s3cret", b"s3cret") is None
    assert "Enter a passphrase" in (names.passphrase_problem("", "") or "")
    assert "differ" in (names.passphrase_problem("one", "two") or "")
    assert "shorter" in (names.passphrase_problem("x" * 2000, "x" * 2000) or "")


@given(st.one_of(st.text(), st.integers(), st.none(), st.binary(), st.floats()))
def test_validators_never_crash(value: object) -> None:
    names.days_problem(value)
    names.key_size_problem(value)
    names.certificate_name_problem(value)


def test_stem_in_a_real_folder_tree(tmp_path: Path) -> None:
    stem = names.file_stem_for("../../escape")
    assert (tmp_path / stem).resolve().parent == tmp_path.resolve()
