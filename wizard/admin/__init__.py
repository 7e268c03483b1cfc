"""An admin's sign-in that changes the app registration: adds a certificate, or creates the app.

Each module has one job; import names from the module that holds them:
- signin: the device code sign-in (AdminSignIn, DeviceCodePrompt), in memory only
- graph: what the signed-in admin does through Microsoft Graph (AdminGraph)
- errors: AdminError, each kind explained in `wizard.signin.catalogue`
Nothing of the admin's is ever written: no token cache is persisted, no token is logged.
"""

__all__ = ["errors", "graph", "signin"]
