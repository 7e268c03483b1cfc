"""The demo tenant: a local stand-in for Entra ID and Microsoft Graph, over real HTTPS.

`DemoTenant` runs it in-process (a context manager); `entra-cert-wizard emulator` runs it as
a command. No Textual here: the CLI and the tests use it alone.
"""

from wizard.emulator.faults import Fault
from wizard.emulator.server import DemoInfo, DemoTenant

__all__ = ["DemoInfo", "DemoTenant", "Fault"]
