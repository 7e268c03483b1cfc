"""The rotation's stage list and its one runner, without a tenant: the list drives every count
and label, and a stage only the user can do waits for their yes without changing anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_profiles import save_real_tenant_profile

from wizard.profiles import Profile, get_profile, profile_to_json
from wizard.rotation.progress import next_stage, status_lines
from wizard.rotation.runner import RotationCallbacks, run_stage, run_until_waiting
from wizard.rotation.stages import (
    ROTATION_DONE,
    STAGE_NAMES,
    STAGES,
    Stage,
    asks_the_user,
    stage_number,
    stage_title,
)


def real_profile(tmp_path: Path) -> Profile:
    return save_real_tenant_profile(
        certificate_name="Runner", profile_name="runner", out_root=tmp_path
    )


def callbacks(asked: list[str], *, yes: bool) -> RotationCallbacks:
    def user_did_it(stage: Stage, _profile: Profile) -> bool:
        asked.append(stage.name)
        return yes

    return RotationCallbacks(
        user_did_it=user_did_it,
        new_key_passphrase=lambda: None,
        open_key=lambda _role, _path, opener: opener(None),
    )


def test_the_stage_list_drives_numbers_titles_and_the_screen_labels() -> None:
    from screens.rotation import BUTTON_LABELS_DEMO, BUTTON_LABELS_REAL

    assert [stage_number(name) for name in STAGE_NAMES] == list(range(1, len(STAGES) + 1))
    assert stage_number(ROTATION_DONE) == len(STAGES) + 1
    assert stage_title("test") == "Test the new certificate"
    assert stage_title(ROTATION_DONE, finished="Finished") == "Finished"
    for labels in (BUTTON_LABELS_DEMO, BUTTON_LABELS_REAL):
        assert set(labels) == {*STAGE_NAMES, ROTATION_DONE}
    asked_on_real = [s.name for s in STAGES if asks_the_user(s, demo=False)]
    asked_on_demo = [s.name for s in STAGES if asks_the_user(s, demo=True)]
    assert (asked_on_real, asked_on_demo) == (["upload", "switch", "retire"], ["switch"])


def test_the_runner_waits_for_the_user_and_changes_nothing(tmp_path: Path) -> None:
    profile = real_profile(tmp_path)
    asked: list[str] = []
    outcomes = list(run_until_waiting(profile, callbacks(asked, yes=False)))
    assert [(o.stage.name, o.done, o.waiting) for o in outcomes] == [
        ("generate", True, False),
        ("upload", False, True),
    ]
    assert asked == ["upload"]
    saved = get_profile(profile.name)
    assert next_stage(saved) == "upload" and saved.rotation is not None
    assert saved.rotation.uploaded_at is None
    assert "[NEXT] 2. Upload it beside the old one" in "\n".join(status_lines(saved))

    uploaded = run_stage(saved, "upload", callbacks(asked, yes=True))
    assert uploaded.done and next_stage(get_profile(profile.name)) == "test"


def test_the_stage_is_stored_under_its_first_name_and_misspelt_fields_are_refused(
    tmp_path: Path,
) -> None:
    profile = real_profile(tmp_path)
    list(run_until_waiting(profile, callbacks([], yes=False)))
    saved = get_profile(profile.name)
    stored = profile_to_json(saved)["rotation"]
    assert isinstance(stored, dict) and stored["step"] == "upload" and "stage" not in stored
    with pytest.raises(AttributeError, match="no field 'step'"):
        saved.rotation.step = "retire"  # type: ignore[union-attr]
