"""Layout, focus and the command palette, driven with the pilot at the sizes users run:
one look for every input, nothing cut off or below the fold at the smallest supported size."""

from __future__ import annotations

from pathlib import Path

from demo_profiles import save_real_tenant_profile
from test_screens_rotation import Host as RotationHost
from textual.widgets import Checkbox, Input, Static

from wizard.session import WizardState

SMALLEST = (80, 24)


async def test_renew_inputs_look_like_the_wizards_and_it_opens_at_the_top(tmp_path: Path) -> None:
    profile = save_real_tenant_profile(
        certificate_name="Renew Look", profile_name="renew-look", out_root=tmp_path
    )
    app = RotationHost(WizardState(demo=False), profile.name)
    async with app.run_test(size=SMALLEST) as pilot:
        await pilot.pause()
        await pilot.pause()
        screen = app.screen
        # One look: compact, borderless, one row, as on the wizard's own steps.
        for control in [*screen.query(Input), *screen.query(Checkbox)]:
            assert control.compact, f"{control.id} has a border the wizard's fields don't"
        new_pass = screen.query_one("#new-pass", Input)
        assert new_pass.has_focus and new_pass.region.height == 1
        # Opened at the top: the checklist's first steps are on screen, not scrolled away.
        assert screen.query_one("#body").scroll_y == 0
        checklist = screen.query_one("#rotation-checklist", Static)
        assert checklist.region.y >= 1 and "1. " in str(checklist.render())
