"""The wizard's own commands in Textual's command palette (ctrl+p), beside Textual's: jump back
to a finished step, copy the thumbprint and IDs, open the step's help, run the tests again,
show or hide the demo tenant's details.

Each command is offered only where it can act (a step to go back to, a value to copy, a test
that may be run again), so the palette never lists something that does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.base import StepScreen

if TYPE_CHECKING:
    from wizard.app import CertWizardApp

DEMO_DETAILS_TITLE = "Demo tenant"


class WizardCommand(NamedTuple):
    name: str
    help: str
    run: Callable[[], object]


class WizardCommands(Provider):
    """The wizard's commands for the step on screen."""

    def commands(self) -> Iterator[WizardCommand]:
        screen = self.screen
        if not isinstance(screen, StepScreen):
            return  # a dialog is open: it has its own keys
        app: CertWizardApp = self.app  # type: ignore[assignment]
        for index, step in app.completed_steps():
            yield WizardCommand(
                f"Go to step {step.STEP}: {step.TITLE}",
                "Go back to a step already done (your answers are kept).",
                partial(app.jump_to_step, index),
            )
        yield WizardCommand("Help for this step", "What this step does and why (F1).",
                            screen.action_help)
        state = app.state
        for value, what in (
            (state.thumbprint_sha1, "thumbprint"),
            (state.client_id, "client ID"),
            (state.tenant, "tenant ID"),
        ):
            if value:
                yield WizardCommand(f"Copy the {what}", f"Copy {value} to the clipboard.",
                                    partial(screen.copy_text, value, what))
        from screens.checks import LiveTestScreen

        if isinstance(screen, LiveTestScreen) and screen.check_action("retry", ()):
            yield WizardCommand("Run the tests again", "Start this step's test again (r).",
                                screen.action_retry)
        if state.demo_info is not None:
            yield WizardCommand("Show or hide the demo tenant's details",
                                "Its tenant, app and portal, in a note you can close again.",
                                partial(toggle_demo_details, app))

    async def discover(self) -> Hits:
        for command in self.commands():
            yield DiscoveryHit(command.name, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(score, matcher.highlight(command.name), command.run, help=command.help)


def demo_details(app: CertWizardApp) -> str:
    """The demo tenant's facts a user may want while walking the wizard."""
    info = app.state.demo_info
    if info is None:
        return ""
    return (
        f"{info.organization_name} ({info.tenant_domain})\n"
        f"Tenant ID: {info.tenant_id}\n"
        f"App: {info.app_name}, client ID {info.client_id}\n"
        f"Portal: {info.portal}"
    )


def toggle_demo_details(app: CertWizardApp) -> None:
    """Show the demo tenant's details until asked again (then hide them)."""
    shown = [n for n in app._notifications if n.title == DEMO_DETAILS_TITLE]
    if shown:
        for notification in shown:
            app._unnotify(notification)
        return
    app.notify(demo_details(app), title=DEMO_DETAILS_TITLE, timeout=3600, markup=False)
