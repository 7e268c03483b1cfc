"""entra-cert-wizard: certificate authentication for Microsoft Entra ID app registrations."""

__version__ = "0.1.0"
