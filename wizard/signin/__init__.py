"""Signing in as the app: the positive and negative tests, and what they stand on.

Each module has one job; import names from the module that holds them:
- plan: the checks and probes a test runs, their results, verdicts, exit codes (no heavy imports)
- settings: ConnectionSettings (built by `connection_settings`) and the Credential
- run: both tests in one call, when the negative test runs, the "just uploaded" window
- positive, negative: the two tests
- discovery, http: finding the tenant; the HTTP/MSAL plumbing and retries
- clouds, catalogue, tokens: the clouds, every failure explained, reading a token
Importing any of them loads neither MSAL nor requests: those load when a test runs.
"""

__all__ = [
    "catalogue",
    "clouds",
    "discovery",
    "http",
    "negative",
    "plan",
    "positive",
    "run",
    "settings",
    "tokens",
]
