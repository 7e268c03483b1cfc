"""The Microsoft clouds a tenant can live in, and the custom one the demo tenant uses.

A cloud is only hosts and a trust store: the sign-in tests run the same code against
every one of them. Each well-known cloud also carries the names other tools give it, so the
code snippets address the same cloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from wizard.emulator import DemoInfo

DEFAULT_GRAPH_RESOURCE = "https://graph.microsoft.com"

# The sign-in hosts Microsoft runs; MSAL may ask them for instance discovery. Anything else
# (the demo tenant, a test double) must be used with instance_discovery=False, or MSAL phones
# login.microsoftonline.com behind the user's back.
MICROSOFT_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
        "login.chinacloudapi.cn",
    }
)


@dataclass(frozen=True)
class Cloud:
    """Where a tenant signs in and where its Microsoft Graph lives.

    `ca_bundle` set means "trust exactly this CA" (the demo tenant): the HTTP session then
    verifies against it and ignores the environment. Unset means the system's trust store and
    the environment (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE), as a real server needs.
    `instance_name` is what Entra's OpenID configuration calls the cloud
    (`cloud_instance_name`), used to spot a tenant that lives in another cloud. The last four
    fields are the cloud's names in the snippets' tools (empty for a custom cloud).
    """

    key: str
    label: str
    authority_host: str
    graph_endpoint: str
    graph_resource: str
    ca_bundle: str | None = None
    instance_name: str | None = None
    mg_environment: str = ""  # Connect-MgGraph -Environment
    exchange_environment: str = ""  # Connect-ExchangeOnline -ExchangeEnvironmentName
    az_cloud: str = ""  # az cloud set --name
    identity_authority: str = ""  # azure.identity.AzureAuthorityHosts member

    def authority(self, tenant: str) -> str:
        """The authority URL MSAL wants: the host followed by the tenant."""
        return f"{self.authority_host}/{tenant}"

    @property
    def graph_scope(self) -> str:
        """The app-only scope: every application permission granted on Graph."""
        return f"{self.graph_resource}/.default"

    @property
    def is_microsoft(self) -> bool:
        """True for Microsoft's own sign-in hosts (instance discovery allowed)."""
        return (urlsplit(self.authority_host).hostname or "") in MICROSOFT_AUTHORITY_HOSTS

    @property
    def is_custom(self) -> bool:
        return self.key not in CLOUDS


CLOUDS: dict[str, Cloud] = {
    "global": Cloud(
        key="global",
        label="Global (Microsoft Entra ID)",
        authority_host="https://login.microsoftonline.com",
        graph_endpoint="https://graph.microsoft.com",
        graph_resource="https://graph.microsoft.com",
        instance_name="microsoftonline.com",
        mg_environment="Global",
        exchange_environment="O365Default",
        az_cloud="AzureCloud",
        identity_authority="AZURE_PUBLIC_CLOUD",
    ),
    "usgov": Cloud(
        key="usgov",
        label="US Government (GCC High)",
        authority_host="https://login.microsoftonline.us",
        graph_endpoint="https://graph.microsoft.us",
        graph_resource="https://graph.microsoft.us",
        instance_name="microsoftonline.us",
        mg_environment="USGov",
        exchange_environment="O365USGovGCCHigh",
        az_cloud="AzureUSGovernment",
        identity_authority="AZURE_GOVERNMENT",
    ),
    "usgov-dod": Cloud(
        key="usgov-dod",
        label="US Government (DoD)",
        authority_host="https://login.microsoftonline.us",
        graph_endpoint="https://dod-graph.microsoft.us",
        graph_resource="https://dod-graph.microsoft.us",
        instance_name="microsoftonline.us",
        mg_environment="USGovDoD",
        exchange_environment="O365USGovDoD",
        az_cloud="AzureUSGovernment",
        identity_authority="AZURE_GOVERNMENT",
    ),
    "china": Cloud(
        key="china",
        label="China (operated by 21Vianet)",
        authority_host="https://login.partner.microsoftonline.cn",
        graph_endpoint="https://microsoftgraph.chinacloudapi.cn",
        graph_resource="https://microsoftgraph.chinacloudapi.cn",
        instance_name="partner.microsoftonline.cn",
        mg_environment="China",
        exchange_environment="O365China",
        az_cloud="AzureChinaCloud",
        identity_authority="AZURE_CHINA",
    ),
}

DEFAULT_CLOUD = "global"
CLOUD_KEYS: tuple[str, ...] = tuple(CLOUDS)  # what --cloud and a profile's "cloud" accept
# The key of a running demo tenant's cloud: not in CLOUDS, its hosts come from the tenant.
DEMO_CLOUD_KEY = "demo"


def _clean_url(url: str, what: str) -> str:
    from wizard.errors import UserError

    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise UserError(
            f"The {what} must be an https:// address, not {url!r}.",
            hint="Sign-in only works over HTTPS; copy the address the demo tenant printed.",
            exit_code=2,
        )
    return url


def custom_cloud(
    authority_host: str,
    graph_endpoint: str,
    *,
    graph_resource: str = DEFAULT_GRAPH_RESOURCE,
    ca_bundle: str | None = None,
    label: str = "Custom",
    key: str = "custom",
) -> Cloud:
    """A cloud from explicit hosts, e.g. a demo tenant running in another process."""
    return Cloud(
        key=key,
        label=label,
        authority_host=_clean_url(authority_host, "authority host"),
        graph_endpoint=_clean_url(graph_endpoint, "Graph endpoint"),
        graph_resource=graph_resource.strip().rstrip("/"),
        ca_bundle=ca_bundle,
    )


def demo_cloud(info: DemoInfo) -> Cloud:
    """The custom cloud of a running demo tenant, trusting only its own CA."""
    return custom_cloud(
        info.authority_host,
        info.graph_endpoint,
        graph_resource=info.graph_resource,
        ca_bundle=info.ca_bundle,
        label="Demo tenant",
        key=DEMO_CLOUD_KEY,
    )


def cloud_for_instance(instance_name: str) -> Cloud | None:
    """The first well-known cloud whose OpenID `cloud_instance_name` is `instance_name`."""
    for cloud in CLOUDS.values():
        if cloud.instance_name == instance_name.lower():
            return cloud
    return None
