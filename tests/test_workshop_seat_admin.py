"""A workshop seat's admin sign-in reaches that seat's apps only.

Each seat has its own demo admin whose Application Administrator and Privileged Role
Administrator roles are assigned on the seat's app registration (and the apps it creates);
a seat's portal token approves a device code only as that admin or the user with no role.
Real MSAL signs in against the workshop's own demo tenant over HTTPS; Graph judges the calls.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_test_certificate

from wizard import certs
from wizard.admin.errors import AdminError
from wizard.admin.graph import AdminGraph
from wizard.admin.signin import AdminSignIn
from wizard.emulator import DemoInfo, DemoTenant
from wizard.emulator.device_code import INTERVAL
from wizard.emulator.users import find_user
from wizard.errors import UserError
from wizard.portal import PortalClient
from wizard.signin.clouds import DEMO_CLOUD_KEY
from wizard.signin.settings import connection_settings
from wizard.workshop.room import Room

GRAPH_PRINCIPAL = "servicePrincipals(appId='00000003-0000-0000-c000-000000000000')"
ORGANIZATION_READ_ALL = "498476ce-e0fe-48b0-b801-37ba7e2685c6"


@pytest.fixture(scope="module")
def workshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoTenant, Room]]:
    from test_workshop import CODE, workshop_args

    from wizard.commands.workshop import open_room

    folder = tmp_path_factory.mktemp("seat-admin") / "room"
    tenant, room = open_room(workshop_args(folder, seats=3, no_consent_seats=1), CODE)
    yield tenant, room
    tenant.stop()


def signed_in(info: DemoInfo, user: str, *, consent: bool = True) -> AdminGraph:
    """Step 4's admin sign-in, approved through the seat's own portal token."""
    settings = connection_settings(info.tenant_id, "", cloud_key=DEMO_CLOUD_KEY, demo=info)
    signin = AdminSignIn(settings, consent=consent)
    prompt = signin.start()
    PortalClient.for_demo(info).decide_device_code(prompt.user_code, approve=True, user=user)
    return signin.wait(threading.Event())


def certificate(name: str) -> bytes:
    cert, _ = make_test_certificate(name)
    return certs.cert_der(cert)


def keys_of(tenant: DemoTenant, client_id: str) -> int:
    app = tenant.directory.application(client_id)
    assert app is not None
    return len(app.key_credentials)


def grant(graph: AdminGraph, tenant: DemoTenant, client_id: str) -> Any:
    """Admin consent for Organization.Read.All to the app, straight through Graph."""
    app = tenant.directory.application(client_id)
    assert app is not None
    graph_principal = graph._call("GET", f"/{GRAPH_PRINCIPAL}?$select=id").body["id"]
    return graph._call(
        "POST",
        f"/servicePrincipals/{graph_principal}/appRoleAssignedTo",
        {"principalId": app.sp_object_id, "resourceId": graph_principal,
         "appRoleId": ORGANIZATION_READ_ALL},
    )


def test_each_seat_has_its_own_admin_in_its_info(workshop: tuple[DemoTenant, Room]) -> None:
    tenant, room = workshop
    admins = [room.seat_info(n).admin_user for n in (1, 2, 3)]
    domain = tenant.info.tenant_domain
    assert admins == [f"seat{n}-admin@{domain}" for n in (1, 2, 3)]
    assert tenant.info.admin_user == f"admin@{domain}"  # outside the seats: the tenant's admin


def test_a_seat_admin_changes_its_own_app_but_not_another_seats(
    workshop: tuple[DemoTenant, Room],
) -> None:
    tenant, room = workshop
    mine, theirs, unconsented = room.seat_info(1), room.seat_info(2), room.seat_info(3)
    graph = signed_in(mine, mine.admin_user)
    try:
        outcome = graph.add_certificate(mine.client_id, certificate("SeatOne"), display_name="S1")
        assert not outcome.already_there and keys_of(tenant, mine.client_id) == 1
        # Reading another seat's app is a member's right; changing it is not.
        assert graph.find_application(theirs.client_id).client_id == theirs.client_id
        with pytest.raises(AdminError) as refused:
            graph.add_certificate(theirs.client_id, certificate("Intruder"), display_name="X")
        assert refused.value.kind == "forbidden"
        assert keys_of(tenant, theirs.client_id) == 0
        # Nor may it grant (or take over) another seat's consent.
        answer = grant(graph, tenant, unconsented.client_id)
        assert answer.status == 403
        assert answer.body["error"]["code"] == "Authorization_RequestDenied"
        assert answer.body["error"]["message"] == (
            "Insufficient privileges to complete the operation.")
        assert not tenant.directory.application(unconsented.client_id).consented  # type: ignore[union-attr]
    finally:
        graph.close()
    # Seat 3's own admin may grant its own app consent.
    own = signed_in(unconsented, unconsented.admin_user)
    try:
        assert grant(own, tenant, unconsented.client_id).status == 201
        assert tenant.directory.application(unconsented.client_id).consented  # type: ignore[union-attr]
    finally:
        own.close()


def test_a_seat_token_approves_only_as_its_own_admin_or_the_plain_user(
    workshop: tuple[DemoTenant, Room],
) -> None:
    tenant, room = workshop
    mine, theirs = room.seat_info(1), room.seat_info(2)
    portal = PortalClient.for_demo(mine)
    settings = connection_settings(mine.tenant_id, "", cloud_key=DEMO_CLOUD_KEY, demo=mine)
    prompt = AdminSignIn(settings).start()
    domain = mine.tenant_domain
    for someone in ("admin", f"admin@{domain}", f"ADMIN@{domain}", theirs.admin_user):
        with pytest.raises(UserError, match="only as its own seat's admin"):
            portal.decide_device_code(prompt.user_code, approve=True, user=someone)
    assert tenant.device_codes.find(prompt.user_code).state == "pending"  # nothing decided
    assert portal.decide_device_code(prompt.user_code, approve=True, user="user") == "approved"
    second = AdminSignIn(settings).start()
    assert portal.decide_device_code(second.user_code, approve=True,
                                     user=mine.admin_user) == "approved"
    # The tenant's own admin token still approves as the tenant's admin.
    third = AdminSignIn(settings).start()
    assert PortalClient.for_demo(tenant.info).decide_device_code(
        third.user_code, approve=True, user="admin") == "approved"


def test_a_seat_admin_owns_the_app_it_creates_and_consents_it(
    workshop: tuple[DemoTenant, Room],
) -> None:
    tenant, room = workshop
    mine, theirs = room.seat_info(2), room.seat_info(1)
    graph = signed_in(mine, mine.admin_user)
    try:
        created = graph.create_application("Seat two's own", consent=True)
        assert created.consented
        app = tenant.directory.application(created.client_id)
        assert app is not None and app.consented
        graph.add_certificate(created.client_id, certificate("SeatTwoOwn"), display_name="S2")
    finally:
        graph.close()
    other = signed_in(theirs, theirs.admin_user)
    try:
        with pytest.raises(AdminError) as refused:
            other.add_certificate(created.client_id, certificate("Intruder"), display_name="X")
        assert refused.value.kind == "forbidden"
    finally:
        other.close()
    assert keys_of(tenant, created.client_id) == 1


def test_the_tenant_admin_outside_the_seats_still_changes_any_app(
    workshop: tuple[DemoTenant, Room],
) -> None:
    tenant, room = workshop
    graph = signed_in(tenant.info, "admin", consent=False)
    try:
        target = room.seat_info(2).client_id
        before = keys_of(tenant, target)
        graph.add_certificate(target, certificate("Trainer"), display_name="Trainer")
        assert keys_of(tenant, target) == before + 1
    finally:
        graph.close()


async def test_step_4s_demo_shortcut_in_a_seat_creates_and_consents_as_the_seats_admin(
    workshop: tuple[DemoTenant, Room], tmp_path: Path
) -> None:
    from screen_host import StepHost
    from test_screens_admin_upload import admin_status, until, written_set

    from screens.admin_upload import AdminUpload
    from screens.upload import UploadScreen
    from wizard.session import WizardState

    tenant, room = workshop
    seat = room.seat_info(1)
    files, thumbprint = written_set(tmp_path)
    state = WizardState(demo=True, demo_info=seat, portal=PortalClient.for_demo(seat),
                        files=files, thumbprint_sha1=thumbprint, name="AdminPathTest")
    trainer = PortalClient.for_demo(tenant.info)
    trainer.set_device_code_policy(interval=1)
    try:
        app = StepHost(UploadScreen, state)
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.click("#admin-start")
            await pilot.click("#admin-create")
            await until(pilot, lambda: app.screen.query_one(AdminUpload).waiting, "the code")
            await pilot.press("enter")  # "Approve as the demo admin": the seat's own admin
            await until(pilot, lambda: "✓" in admin_status(app), "the new app", seconds=30)
            assert "Created the app registration" in admin_status(app)
    finally:
        trainer.set_device_code_policy(interval=INTERVAL)
    created = tenant.directory.application(state.client_id)
    assert created is not None and created.consented and len(created.key_credentials) == 1
    # Made by the seat's admin (its owner now), out of every other seat's reach.
    owner, other = (find_user(tenant.users(), room.seat_info(n).admin_user) for n in (1, 2))
    assert owner is not None and tenant.app_scopes.may_change(owner, created.client_id)
    assert other is not None and not tenant.app_scopes.may_change(other, created.client_id)
