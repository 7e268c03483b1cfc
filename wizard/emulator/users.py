"""The demo tenant's people: who can sign in on the device-code approval page.

Two users, the same in every demo tenant (their object IDs are derived from the tenant's ID,
so a restart keeps them): an admin holding the Application Administrator role (who may change
app registrations) and the Privileged Role Administrator role (who may grant admin consent to
Graph's application permissions), and a user with neither, for whom Graph refuses a write
with 403.

A workshop adds one admin per seat (AppScopes): its roles are assigned with directoryScopeId
"/<application object id>", as Entra allows, so they reach that seat's app registration and
no other. Any user owns the apps it creates through Graph, and an owner may change its app.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from wizard.emulator.directory import Tenant

# Directory role template IDs (the `wids` claim): Microsoft's built-in role IDs.
APPLICATION_ADMINISTRATOR = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
CLOUD_APPLICATION_ADMINISTRATOR = "158c047a-c907-4556-b7ef-446551a6b5f7"
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
# The role every member user carries in `wids` ("User" role template).
MEMBER_ROLE = "b79fbf4d-3ef9-4689-8143-76b194e85509"
# The roles that may change any app registration (Graph's write checks use these).
APP_WRITER_ROLES = (
    APPLICATION_ADMINISTRATOR,
    CLOUD_APPLICATION_ADMINISTRATOR,
    GLOBAL_ADMINISTRATOR,
)
# Granting a Microsoft Graph application permission (admin consent to an app role) takes more:
# Entra lets only these roles do it, not the application administrators.
APP_ROLE_GRANTER_ROLES = (PRIVILEGED_ROLE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR)


@dataclass(frozen=True)
class DemoUser:
    user_principal_name: str
    object_id: str
    display_name: str
    given_name: str
    family_name: str
    role_ids: tuple[str, ...]
    # Its roles reach only the apps AppScopes assigns it or it owns (not the whole tenant).
    app_scoped: bool = False

    @property
    def can_change_applications(self) -> bool:
        return any(role in APP_WRITER_ROLES for role in self.role_ids)

    @property
    def can_grant_app_roles(self) -> bool:
        return any(role in APP_ROLE_GRANTER_ROLES for role in self.role_ids)

    def to_json(self) -> dict[str, object]:
        return {
            "user_principal_name": self.user_principal_name,
            "object_id": self.object_id,
            "display_name": self.display_name,
            "application_administrator": self.can_change_applications,
            "can_grant_admin_consent": self.can_grant_app_roles,
            "app_scoped": self.app_scoped,
        }


_PEOPLE = (
    # (mail nickname, given name, family name, roles)
    ("admin", "Avery", "Admin", (APPLICATION_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR)),
    ("user", "Jordan", "User", ()),
)


def demo_users(tenant: Tenant) -> tuple[DemoUser, ...]:
    """The tenant's users, admin first."""
    return tuple(_user(tenant, *person) for person in _PEOPLE)


def _user(tenant: Tenant, nickname: str, given: str, family: str, roles: tuple[str, ...],
          *, app_scoped: bool = False) -> DemoUser:
    upn = f"{nickname}@{tenant.domain}"
    return DemoUser(
        user_principal_name=upn,
        object_id=str(uuid.uuid5(uuid.UUID(tenant.tenant_id), upn)),
        display_name=f"{given} {family}",
        given_name=given,
        family_name=family,
        role_ids=(*roles, MEMBER_ROLE),
        app_scoped=app_scoped,
    )


def find_user(users: Iterable[DemoUser], name: str) -> DemoUser | None:
    """A user by UPN (any case), object ID, or the bare nickname ("admin", "user")."""
    wanted = name.strip().lower()
    for user in users:
        nickname = user.user_principal_name.split("@", 1)[0]
        if wanted in (user.user_principal_name.lower(), user.object_id, nickname):
            return user
    return None


class AppScopes:
    """Role assignments scoped to app registrations, and who owns which app (by client ID).

    A scoped user's Application Administrator and Privileged Role Administrator reach the
    apps assigned to it and the apps it owns: it changes them and grants them admin consent
    (real Entra assigns Privileged Role Administrator tenant-wide only; a seat's admin
    granting consent to its own apps stands in for a trainer doing it). A tenant-wide
    admin's roles reach every app, as before; any user may change the apps it owns.
    Kept in memory: a workshop's users live as long as its room.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scoped: dict[str, DemoUser] = {}  # object ID -> user
        self._assigned: dict[str, set[str]] = {}  # object ID -> client IDs its roles reach
        self._owned: dict[str, set[str]] = {}  # object ID -> client IDs it created

    def add_app_admin(self, tenant: Tenant, nickname: str, label: str, client_id: str) -> DemoUser:
        """A user (`nickname`@domain) whose admin roles are assigned on one app only."""
        roles = (APPLICATION_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR)
        user = _user(tenant, nickname, label, "Admin", roles, app_scoped=True)
        with self._lock:
            self._scoped[user.object_id] = user
            self._assigned.setdefault(user.object_id, set()).add(client_id.lower())
        return user

    def users(self) -> tuple[DemoUser, ...]:
        with self._lock:
            return tuple(self._scoped.values())

    def own(self, user: DemoUser, client_id: str) -> None:
        with self._lock:
            self._owned.setdefault(user.object_id, set()).add(client_id.lower())

    def assigned_to(self, user: DemoUser, client_id: str) -> bool:
        """Whether the user's scoped role assignments name this app (not ownership)."""
        with self._lock:
            return client_id.lower() in self._assigned.get(user.object_id, set())

    def owns(self, user: DemoUser, client_id: str) -> bool:
        with self._lock:
            return client_id.lower() in self._owned.get(user.object_id, set())

    def _roles_reach(self, user: DemoUser, client_id: str) -> bool:
        """A tenant-wide user's roles reach every app; a scoped one's, its apps and owned ones."""
        return not user.app_scoped or self.assigned_to(user, client_id) or self.owns(
            user, client_id
        )

    def may_change(self, user: DemoUser, client_id: str) -> bool:
        """Whether the user may change the app: its owner, or an app writer reaching it."""
        if self.owns(user, client_id):
            return True
        return user.can_change_applications and self._roles_reach(user, client_id)

    def may_grant(self, user: DemoUser, client_id: str) -> bool:
        """Whether the user may grant the app admin consent (one of Graph's app roles)."""
        return user.can_grant_app_roles and self._roles_reach(user, client_id)
