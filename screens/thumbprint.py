"""Step 5 · Thumbprint: the SHA-1 thumbprint exactly as the portal shows it, copyable, with an
optional paste-back check against what the portal lists."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Input, Static

from screens.base import StepScreen
from screens.widgets import Field, StepInput
from wizard.entra_portal import THUMBPRINT_COLUMN


def compare_thumbprints(
    ours: str, pasted: str, *, nothing_uploaded: bool = False
) -> tuple[bool | None, str]:
    """(match?, what to say) for what the user pasted; None = not a thumbprint.

    Only two texts are compared, and the words say so: a match proves the portal holds this
    certificate only if the text was copied from the portal's list, and says nothing of the
    portal when `nothing_uploaded` (a demo run whose upload was skipped).
    """
    from wizard.errors import UserError
    from wizard.inputs import normalize_thumbprint

    if not pasted.strip():
        return None, ""
    try:
        theirs = normalize_thumbprint(pasted)
    except UserError as error:
        return None, error.message
    if theirs == ours and nothing_uploaded:
        return True, (
            "✓ Match: the thumbprint you pasted is this certificate's. Nothing was uploaded to "
            "the demo tenant, though: upload it on step 4 before the sign-in test."
        )
    if theirs == ours:
        return True, (
            "✓ Match: the thumbprint you pasted is this certificate's. If you copied it from "
            f"{THUMBPRINT_COLUMN}, the portal holds this certificate."
        )
    return False, (
        "✗ Mismatch: the thumbprint you pasted is not this certificate's. If you copied it "
        "from the portal, a different certificate was uploaded: upload this step's .cer "
        "(step 4), or delete the wrong one from the portal."
    )


class ThumbprintScreen(StepScreen):
    """Show, copy and (optionally) check the SHA-1 thumbprint."""

    STEP = 5
    TITLE = "Thumbprint"
    HELP_FILE = "thumbprint"
    AUTO_FOCUS = "#next"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("c", "copy", "Copy thumbprint")]

    def compose_body(self) -> ComposeResult:
        thumbprint = self.state.thumbprint_sha1 or "(no certificate yet: go back to step 3)"
        yield Static(
            f"The certificate's SHA-1 thumbprint, exactly as the portal lists it under "
            f"{THUMBPRINT_COLUMN}:",
            markup=False,
        )
        yield Static(thumbprint, id="thumbprint-big", markup=False)
        yield Button("Copy the thumbprint", id="copy", compact=True)
        yield Static("", id="copy-status", classes="muted", markup=False)
        if self.state.uploaded_thumbprint is not None:
            match = self.state.uploaded_thumbprint == thumbprint
            # Uploaded on step 4: by the demo portal, or (in a real tenant) by an admin's sign-in.
            holder, lister = (("the demo tenant", "The demo portal") if self.state.demo
                              else ("the app registration", "Microsoft Graph"))
            verdict = (
                f"✓ Match: {holder} holds this certificate." if match else
                f"✗ Mismatch: {holder} holds a different certificate; upload this one "
                "(step 4)."
            )
            yield Static(
                f"{lister} lists {self.state.uploaded_thumbprint}. {verdict}",
                id="portal-thumbprint", classes="success" if match else "error", markup=False,
            )
        yield Field(
            "Portal shows",
            StepInput(id="pasted", placeholder="optional: paste the portal's thumbprint to compare",
                  compact=True),
            hint="Case, spaces, colons, invisible characters: all fine.",
            id="pasted-field",
        )
        yield Static("", id="compare-result", markup=False)

    @on(Button.Pressed, "#copy")
    def copy_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_copy()

    def action_copy(self) -> None:
        if self.state.thumbprint_sha1:
            self.query_one("#copy-status", Static).update("Copying…")
            self.copy_text(self.state.thumbprint_sha1, "thumbprint")

    def copied(self, text: str, what: str, outcome: str, *, system: bool) -> None:
        self.query_one("#copy-status", Static).update(outcome)

    @on(Input.Changed, "#pasted")
    def pasted_changed(self, event: Input.Changed) -> None:
        nothing_uploaded = self.state.demo and self.state.uploaded_thumbprint is None
        match, verdict = compare_thumbprints(
            self.state.thumbprint_sha1, event.value, nothing_uploaded=nothing_uploaded
        )
        result = self.query_one("#compare-result", Static)
        result.update(verdict)
        result.set_class(match is True, "success")
        result.set_class(match is False, "error")
        result.set_class(match is None, "muted")
