"""The demo tenant's people: who can sign in on the device-code approval page.

Two users, the same in every demo tenant (their object IDs are derived from the tenant's ID,
so a restart keeps them): an admin holding the Application Administrator role (who may change
app registrations) and the Privileged Role Administrator role (who may grant admin consent to
Graph's application permissions), and a user with neither, for whom Graph refuses a write
with 403.
"""

from __future__ import annotations

import uuid
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
        }


_PEOPLE = (
    # (mail nickname, given name, family name, roles)
    ("admin", "Avery", "Admin", (APPLICATION_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR)),
    ("user", "Jordan", "User", ()),
)


def demo_users(tenant: Tenant) -> tuple[DemoUser, ...]:
    """The tenant's users, admin first."""
    people = []
    for nickname, given, family, roles in _PEOPLE:
        upn = f"{nickname}@{tenant.domain}"
        people.append(
            DemoUser(
                user_principal_name=upn,
                object_id=str(uuid.uuid5(uuid.UUID(tenant.tenant_id), upn)),
                display_name=f"{given} {family}",
                given_name=given,
                family_name=family,
                role_ids=(*roles, MEMBER_ROLE),
            )
        )
    return tuple(people)


def find_user(tenant: Tenant, name: str) -> DemoUser | None:
    """A user by UPN (any case), object ID, or the bare nickname ("admin", "user")."""
    wanted = name.strip().lower()
    for user in demo_users(tenant):
        nickname = user.user_principal_name.split("@", 1)[0]
        if wanted in (user.user_principal_name.lower(), user.object_id, nickname):
            return user
    return None
