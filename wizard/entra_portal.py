"""Where things are in the Entra admin center: the clicks to each page and the labels on it.

Every interface (the wizard's steps, the CLI, the error catalogue, rotation) points people at
the same pages; written once here, in one wording, they read the same everywhere and change
in one place when Microsoft moves a menu.
"""

from __future__ import annotations

ADMIN_CENTER = "Entra admin center"
ADMIN_CENTER_URL = "https://entra.microsoft.com"
SEPARATOR = " › "  # how the wizard writes a click path (the portal's own breadcrumb sign)


def click_path(*places: str) -> str:
    """The clicks from one place to the next, written as the wizard shows them."""
    return SEPARATOR.join(places)


YOUR_APP = click_path(ADMIN_CENTER, "App registrations", "your app")
"""The app registration's own pages start here."""

OVERVIEW = click_path(YOUR_APP, "Overview")
"""The page that shows both the client ID and the tenant ID."""

CERTIFICATES_TAB = click_path("Certificates & secrets", "Certificates")
"""Inside the app: the list of its certificates (thumbprints, expiry, the delete button)."""

CERTIFICATES = click_path(YOUR_APP, CERTIFICATES_TAB)
"""Where an old certificate is deleted (its row's delete button)."""

UPLOAD_CERTIFICATE = click_path(CERTIFICATES, "Upload certificate")
"""Where a new .cer is uploaded."""

THUMBPRINT_COLUMN = click_path(CERTIFICATES_TAB, "Thumbprint")
"""Where the portal shows a certificate's SHA-1 thumbprint."""

CLIENT_ID_LABEL = "Application (client) ID"
TENANT_ID_LABEL = "Directory (tenant) ID"
THUMBPRINT_LABEL = "Thumbprint"
