"""Step 4 · Upload: the .cer to upload and the exact clicks; in demo mode, a real upload to the
demo tenant's portal API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Button, Select, Static

from screens import admin_upload
from screens.admin_upload import AdminUpload
from screens.base import StepScreen
from screens.widgets import CopyableValue
from wizard.entra_portal import ADMIN_CENTER_URL, UPLOAD_CERTIFICATE
from wizard.shown import shown

REAL_STEPS = f"""\
1. Open {ADMIN_CENTER_URL} and sign in as an admin of the app.
2. {UPLOAD_CERTIFICATE}.
3. Pick the .cer file above, add a description (e.g. the certificate name), then Add.
No browser on this server? Fetch the .cer to your own computer first, e.g. \
scp user@this-server:<path above> . (it is public: copying it is safe).
The portal then lists it with a thumbprint: the next step checks it is this certificate. \
Only the .cer is uploaded; the .key and .pfx never leave this server."""

DEMO_STEPS = (
    f"In a real tenant you would click {UPLOAD_CERTIFICATE} and pick the .cer above. Here the demo "
    "tenant's portal takes it directly, exactly as the real portal receives it. Only the "
    "public .cer is sent."
)


@dataclass
class Uploaded(Message):
    """The demo portal accepted the certificate and computed this thumbprint."""

    thumbprint: str
    client_id: str


@dataclass
class UploadFailed(Message):
    message: str


class UploadScreen(StepScreen):
    """Show what to upload where; in demo mode, upload it for real."""

    STEP = 4
    TITLE = "Upload the certificate"
    HELP_FILE = "upload"
    AUTO_FOCUS = "#next"
    ENTER_LABELS: ClassVar[Mapping[str, str]] = {
        "upload": "Upload", "admin-start": "Admin sign-in", "admin-existing": "Sign in",
        "admin-create": "Sign in",
        "admin-approve": "Approve",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        # Before the step's own Esc (Back; named again: a key bound here replaces the base
        # class's): Esc cancels an admin's sign-in under way, or folds the admin choice away.
        Binding("escape", "cancel_admin", "Cancel sign-in", priority=True),
        Binding("escape", "close_admin", "Close", priority=True),
        Binding("escape", "back", "Back"),
    ]

    def compose_body(self) -> ComposeResult:
        files = self.state.files
        cer = str(files.cer) if files is not None else "(no certificate yet: go back a step)"
        yield Static("Upload this file (the public certificate):", classes="section")
        yield CopyableValue(cer, what="file path", path=files is not None, id="cer-path")
        # Before the manual path: Tab from the demo's upload button still goes Back, then Next.
        yield AdminUpload(self.state, id="admin")
        yield Static("Or add it by hand:", classes="section", markup=False)
        if self.state.demo:
            yield Static(DEMO_STEPS, classes="lead", markup=False)
            info = self.state.demo_info
            if info is not None:
                # Before the button: Tab from the button still goes Back, then Next.
                # Text, not a str: the app names are outside text, never read as markup.
                apps = [(Text(shown(f"{info.app_name} (admin consent granted)")), info.client_id),
                        (Text(shown(f"{info.unconsented_app_name} (no admin consent)")),
                         info.unconsented_client_id)]
                if info.unconsented_client_id == info.client_id:  # a workshop seat's one app
                    apps = [(Text(shown(info.app_name)), info.client_id)]
                chosen = self.state.uploaded_to or info.client_id
                yield Static("The demo app to upload it to:", markup=False)
                yield Select(apps, value=chosen, allow_blank=False, id="upload-app",
                             compact=True)
            yield Button("Upload to the demo tenant", id="upload", variant="success",
                         compact=True)
            yield Static(self.upload_status(), id="upload-status", markup=False)
        else:
            yield Static(REAL_STEPS, classes="lead", markup=False, id="manual-steps")

    def on_mount(self) -> None:
        super().on_mount()
        if self.state.demo and self.state.uploaded_thumbprint is None:
            self.query_one("#upload", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cancel_admin", "close_admin"):
            panel = self.query_one(AdminUpload)
            signing_in = panel.attempt is not None
            wanted = signing_in if action == "cancel_admin" else panel.open and not signing_in
            return wanted and not self.too_small
        return super().check_action(action, parameters)

    def action_cancel_admin(self) -> None:
        self.query_one(AdminUpload).cancel()

    def action_close_admin(self) -> None:
        self.query_one(AdminUpload).close()

    @on(admin_upload.Added)
    def admin_added(self, event: admin_upload.Added) -> None:
        if self.state.demo:  # the manual path's line would still say "Not uploaded yet"
            status = self.query_one("#upload-status", Static)
            status.update("✓ Added through the admin sign-in above: nothing to upload here.")
            status.set_class(True, "success")
        self.query_one("#next").focus()

    @on(admin_upload.Failed)
    def admin_failed(self, event: admin_upload.Failed) -> None:
        """The manual path is the way on: its button (demo), or its steps brought into view."""
        if self.state.demo:
            self.query_one("#upload", Button).focus()
        else:
            self.query_one("#manual-steps").scroll_visible(animate=False)

    def upload_status(self) -> str:
        uploaded = self.state.uploaded_thumbprint
        if uploaded is None:
            return "Not uploaded yet. (Skip it, and the sign-in test fails: try it if you like.)"
        if uploaded == self.state.thumbprint_sha1:
            return (f"✓ Uploaded to {self.app_name(self.state.uploaded_to)}. The portal "
                    f"computed thumbprint {uploaded}: it matches ours.")
        return (
            f"✗ The portal computed thumbprint {uploaded}, but ours is "
            f"{self.state.thumbprint_sha1}: that is a different certificate."
        )

    def app_name(self, client_id: str) -> str:
        """The demo app's name, or "app <client ID>" for one an admin created."""
        info = self.state.demo_info
        names = {info.client_id: info.app_name,
                 info.unconsented_client_id: info.unconsented_app_name} if info else {}
        if not client_id and info is not None:
            return info.app_name  # an upload recorded before the app chosen was kept
        return names.get(client_id, f"app {client_id}")

    @on(Button.Pressed, "#upload")
    def upload_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if self.state.files is None or self.state.portal is None or self.state.demo_info is None:
            self.query_one("#upload-status", Static).update(
                "Nothing to upload yet, or the demo tenant is not running: go back to Welcome."
            )
            return
        self.query_one("#upload", Button).disabled = True
        self.query_one("#upload-status", Static).update("Uploading…")
        self.upload(str(self.query_one("#upload-app", Select).value))

    @work(thread=True, exclusive=True, exit_on_error=False, group="upload")
    def upload(self, client_id: str) -> None:
        from wizard.certs import read_input_file
        from wizard.errors import UserError

        state = self.state
        assert state.files is not None and state.portal is not None and state.demo_info is not None
        try:
            data = read_input_file(state.files.cer, "certificate")
            thumbprint = state.portal.upload_certificate(client_id, data)
        except UserError as error:
            self.post_message(UploadFailed(f"The upload failed: {error}"))
            return
        except OSError as error:
            self.post_message(UploadFailed(f"Could not read {state.files.cer}: {error.strerror}"))
            return
        self.post_message(Uploaded(thumbprint, client_id))

    @on(Uploaded)
    def uploaded(self, event: Uploaded) -> None:
        self.state.upload_recorded(event.thumbprint, event.client_id)
        status = self.query_one("#upload-status", Static)
        status.update(self.upload_status())
        status.set_class(self.state.uploaded_thumbprint == self.state.thumbprint_sha1, "success")
        self.query_one("#upload", Button).disabled = False
        self.query_one("#next").focus()

    @on(UploadFailed)
    def upload_failed(self, event: UploadFailed) -> None:
        status = self.query_one("#upload-status", Static)
        status.update(f"✗ {event.message}")
        status.add_class("error")
        self.query_one("#upload", Button).disabled = False
