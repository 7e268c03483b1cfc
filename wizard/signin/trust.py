"""Which certificates a sign-in test's HTTPS connections trust, and how to name them.

The first that applies wins:
1. the cloud's own CA file: the demo tenant's CA, or the CA bundle given for a real cloud
   (a company proxy that re-signs HTTPS);
2. REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) in the environment, for a real cloud only: a custom
   cloud ignores the environment, as requests does for it;
3. the operating system's trust store, through `truststore` (what pip uses): Windows' and
   macOS' system stores; on Linux OpenSSL's default file and folder, which SSL_CERT_FILE and
   SSL_CERT_DIR replace (so `update-ca-certificates` and SSL_CERT_FILE both work). requests
   still adds certifi's bundle on top, so nothing that worked before stops working.

`truststore` and requests are imported inside functions, like every heavy library here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wizard.signin.clouds import DEMO_CLOUD_KEY, Cloud

if TYPE_CHECKING:
    import requests

# What requests reads from the environment, in its own order.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass(frozen=True)
class Trust:
    """`ca_file`: verify against this file only; None: the operating system's trust store.
    `source` names it for a person (shown when TLS verification fails)."""

    ca_file: str | None
    source: str

    @property
    def uses_system_store(self) -> bool:
        return self.ca_file is None


def choose_trust(cloud: Cloud, environ: Mapping[str, str] | None = None) -> Trust:
    """The trust a session for `cloud` uses (see the module's docstring for the order)."""
    env = os.environ if environ is None else environ
    if cloud.ca_bundle:
        shown = _printable(cloud.ca_bundle)
        if cloud.key == DEMO_CLOUD_KEY:
            return Trust(cloud.ca_bundle, f"the demo tenant's own CA ({shown})")
        return Trust(cloud.ca_bundle, f"the CA bundle given ({shown})")
    if not cloud.is_custom:
        for name in CA_BUNDLE_VARIABLES:
            value = env.get(name)
            if value:
                return Trust(value, f"{name} ({_printable(value)})")
    source = "the operating system's trust store"
    overrides = [
        f"{name}={_printable(env[name])}" for name in ("SSL_CERT_FILE", "SSL_CERT_DIR") if env.get(name)
    ]
    if overrides:
        source += f" ({', '.join(overrides)})"
    return Trust(None, source)


def _printable(path: str) -> str:
    """A path from the user or the environment, safe to show: control characters become '?'."""
    return "".join(char if char.isprintable() else "?" for char in path)


def use_system_store(session: requests.Session) -> None:
    """Make `session` verify HTTPS against the operating system's trust store, direct and
    through a proxy alike."""
    import ssl

    import truststore
    from requests.adapters import HTTPAdapter

    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    class SystemTrustAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            proxy_kwargs["ssl_context"] = context
            return super().proxy_manager_for(proxy, **proxy_kwargs)

    session.mount("https://", SystemTrustAdapter())
