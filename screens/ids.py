"""Step 6 · IDs: the Application (client) ID, the Directory (tenant) ID or domain, the cloud."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Input, Select, Static

from screens.base import StepScreen
from screens.widgets import EngineCheck, Field, StepInput
from wizard import inputs
from wizard.entra_portal import OVERVIEW
from wizard.shown import shown
from wizard.signin.clouds import CLOUDS, DEFAULT_CLOUD

WHERE = f"Both are on the app's Overview page: {OVERVIEW}."


class ClientId(EngineCheck):
    def __init__(self) -> None:
        super().__init__(inputs.client_id_problem)


class Tenant(EngineCheck):
    def __init__(self) -> None:
        super().__init__(inputs.tenant_problem)


def normalized(normalize: Callable[[str], str], text: str) -> str:
    """The canonical value when `text` is valid, else `text` as typed (kept for Back)."""
    from wizard.errors import UserError

    try:
        return normalize(text)
    except UserError:
        return text


class IdsScreen(StepScreen):
    """Which app and tenant to sign in to, and in which cloud."""

    STEP = 6
    TITLE = "App and tenant IDs"
    HELP_FILE = "ids"
    ENTER_LABELS: ClassVar[Mapping[str, str]] = {"fill-demo": "Fill from demo"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+f", "fill_from_demo", "Fill from demo"),  # shown in demo mode only
    ]

    def compose_body(self) -> ComposeResult:
        state = self.state
        yield Static(WHERE, classes="lead", markup=False)
        yield Field(
            "Client ID",
            StepInput(state.client_id, id="client-id", validators=[ClientId()], compact=True,
                  placeholder="Application (client) ID, a GUID"),
            hint="Overview: 'Application (client) ID'.",
            id="client-id-field",
        )
        yield Field(
            "Tenant",
            StepInput(state.tenant, id="tenant", validators=[Tenant()], compact=True,
                  placeholder="Directory (tenant) ID, or contoso.onmicrosoft.com"),
            hint="Overview: 'Directory (tenant) ID' (or a verified domain).",
            id="tenant-field",
        )
        if state.demo:
            yield Field(
                "Cloud",
                # Shown for what it is, not chosen: in demo mode the session's `demo` decides.
                Select([("Demo tenant (this computer)", "demo")], value="demo",
                       allow_blank=False, id="cloud", compact=True, disabled=True),
                id="cloud-field",
            )
            yield Button("Fill from the demo tenant", id="fill-demo", variant="success",
                         compact=True)
            info = state.demo_info
            if info is not None and info.unconsented_client_id != info.client_id:
                yield Static(
                    shown(f"Demo app '{info.app_name}' has admin consent; "
                          f"'{info.unconsented_app_name}' ({info.unconsented_client_id}) has none: "
                          "upload to it on step 4 to see what that looks like. Fill uses the app "
                          "the certificate was uploaded to."),
                    classes="muted", markup=False,
                )
        else:
            yield Field(
                "Cloud",
                Select([(cloud.label, key) for key, cloud in CLOUDS.items()],
                       value=state.cloud_key if state.cloud_key in CLOUDS else DEFAULT_CLOUD,
                       allow_blank=False, id="cloud", compact=True),
                hint="Global unless your tenant is in a national cloud.",
                id="cloud-field",
            )

    def on_mount(self) -> None:
        super().on_mount()
        if self.state.demo and not self.state.client_id:
            self.query_one("#fill-demo", Button).focus()  # Enter fills, Enter again is Next

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fill_from_demo":  # demo mode only; works whatever has the focus
            return self.state.demo
        return super().check_action(action, parameters)

    @on(Button.Pressed, "#fill-demo")
    def fill_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_fill_from_demo()

    def action_fill_from_demo(self) -> None:
        """Put the client ID of the demo app the certificate was uploaded to (else the
        consented one) and the demo tenant's ID in the fields."""
        info = self.state.demo_info
        if info is None:
            self.notify("The demo tenant is not running: go back to Welcome.", severity="error")
            return
        self.query_one("#client-id", Input).value = self.state.uploaded_to or info.client_id
        self.query_one("#tenant", Input).value = info.tenant_id
        self.validate_fields()
        self.query_one("#next").focus()

    def save_answers(self) -> None:
        state = self.state
        state.client_id = normalized(inputs.normalize_client_id,
                                     self.query_one("#client-id", Input).value)
        state.tenant = normalized(inputs.normalize_tenant, self.query_one("#tenant", Input).value)
        if not state.demo:
            state.cloud_key = str(self.query_one("#cloud", Select).value)
