"""A tiny host app that shows one wizard step on its own, for the screen tests."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App

from screens.base import Nav, StepScreen, WizardState


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
