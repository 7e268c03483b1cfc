"""DemoInfo: what a client needs to talk to a running demo tenant (the `emulator --json` line).

Standard library only: the wizard reads a demo tenant running in another process (its own
child, or a workshop's) without loading the tenant itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, cast

# The types of DemoInfo's fields, as written in its annotations.
_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "str | None": (str, type(None)), "bool": (bool,)}


@dataclass(frozen=True)
class DemoInfo:
    """Everything a client needs to talk to a running demo tenant (the --json contract)."""

    authority_host: str
    authority: str
    tenant_id: str
    tenant_domain: str
    organization_name: str
    token_endpoint: str
    graph_endpoint: str
    graph_resource: str
    ca_bundle: str
    client_id: str
    app_name: str
    unconsented_client_id: str
    unconsented_app_name: str
    portal: str
    admin_token: str | None
    jwks_uri: str = ""
    openid_configuration: str = ""
    state_dir: str = ""
    # Where the server really listens (https://127.0.0.1:PORT): with public_hosts the other
    # URLs name the public hosts, and a proxy or hosts entry points them here.
    listen_url: str = ""
    public_hosts: bool = False
    # The device code flow's verification URL (the demo admin sign-in page).
    device_login: str = ""
    # Who the demo shortcut approves a device code as: the tenant's admin, or in a workshop
    # seat that seat's own admin (whose roles reach its own apps only).
    admin_user: str = "admin"

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, object]) -> DemoInfo:
        """The DemoInfo a JSON object describes (fields it does not know are ignored);
        ValueError names a field missing or of the wrong type."""
        values: dict[str, object] = {}
        for field in fields(cls):
            if field.name in document:
                value = document[field.name]
                if not isinstance(value, _TYPES[str(field.type)]):
                    raise ValueError(f"'{field.name}' is not a {field.type}")
                values[field.name] = value
            elif field.default is field.default_factory:  # both MISSING: a required field
                raise ValueError(f"'{field.name}' is missing")
        return cls(**cast(dict[str, Any], values))
