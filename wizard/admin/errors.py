"""The failures of the admin path, each with its explanation and the way back (the manual steps)."""

from __future__ import annotations

from typing import Literal

from wizard.errors import UserError
from wizard.signin import catalogue
from wizard.signin.catalogue import Explanation

AdminErrorKind = Literal[
    "conditional_access",  # a Conditional Access policy blocked the device code sign-in
    "forbidden",  # Graph 403: the admin may not change app registrations
    "expired",  # the device code expired before anyone signed in
    "declined",  # the sign-in was declined on the sign-in page
    "cancelled",  # the user cancelled (Esc, Ctrl+C)
    "not_found",  # no application with this client ID
    "changed_underneath",  # the key credentials changed between read and write
    "not_verified",  # after the write, the app does not hold what was written
    "unreachable",  # the network, TLS, a proxy: no answer
    "refused",  # any other refusal of the sign-in
    "graph_error",  # any other Graph error answer
]

_KINDS_BY_CODE: dict[str, AdminErrorKind] = {
    catalogue.ADMIN_CONDITIONAL_ACCESS.code: "conditional_access",
    catalogue.ADMIN_FORBIDDEN.code: "forbidden",
    catalogue.ADMIN_EXPIRED.code: "expired",
    catalogue.ADMIN_DECLINED.code: "declined",
    catalogue.ADMIN_CANCELLED.code: "cancelled",
    catalogue.ADMIN_APP_NOT_FOUND.code: "not_found",
    catalogue.ADMIN_CHANGED_UNDERNEATH.code: "changed_underneath",
    catalogue.ADMIN_NOT_VERIFIED.code: "not_verified",
}


class AdminError(UserError):
    """Why the admin path stopped: `kind` for code, `explanation` for a person (its fix ends
    with the manual steps, which always remain)."""

    def __init__(self, kind: AdminErrorKind, explanation: Explanation) -> None:
        super().__init__(explanation.title, hint=explanation.fix)
        self.kind: AdminErrorKind = kind
        self.explanation = explanation

    @classmethod
    def explained(cls, explanation: Explanation, default: AdminErrorKind) -> AdminError:
        """The error for an explanation: its kind from the catalogue code, else `default`."""
        return cls(_KINDS_BY_CODE.get(explanation.code, default), explanation)

    @classmethod
    def cancelled(cls) -> AdminError:
        return cls("cancelled", catalogue.ADMIN_CANCELLED)

    @classmethod
    def unreachable(cls, explanation: Explanation) -> AdminError:
        return cls("unreachable", with_manual_steps(explanation))


def with_manual_steps(explanation: Explanation) -> Explanation:
    """An explanation whose fix also offers the manual steps."""
    from dataclasses import replace

    if explanation.fix.endswith(catalogue.MANUAL_STEPS):
        return explanation
    return replace(explanation, fix=f"{explanation.fix} {catalogue.MANUAL_STEPS}")
