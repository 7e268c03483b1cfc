"""A tiny host app that shows one wizard step on its own, and waiting for a step's work,
for the screen tests (and the screenshot script)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed

from screens.base import Nav, StepScreen
from wizard.session import WizardState


class StepHost(App[None]):
    """Shows one step and records how it ended."""

    def __init__(
        self, make_screen: Callable[[WizardState], StepScreen], state: WizardState
    ) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.state = state
        self.results: list[Nav | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.make_screen(self.state), self.results.append)


async def wait_for_screen_workers(pilot: Pilot[Any]) -> None:
    """Wait for the workers of the screen on top, a few rounds (a step's result may start
    another); workers of other nodes, such as the flow's own loop, keep running."""
    app = pilot.app
    for _ in range(5):
        screen = app.screen
        busy = [w for w in app.workers if w.node is screen and not w.is_finished]
        if not busy:
            break
        for worker in busy:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()
        await pilot.pause()
