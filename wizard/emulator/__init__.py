"""The demo tenant: a local stand-in for Entra ID and Microsoft Graph, over real HTTPS.

`DemoTenant` runs it in-process (a context manager); `entra-cert-wizard emulator` runs it as
a command. No Textual here: the CLI and the tests use it alone.
"""

import logging

from wizard.emulator.faults import Fault
from wizard.emulator.server import DemoInfo, DemoTenant

# Silent unless the host application configures logging: an in-process demo tenant must
# never write to the terminal the wizard is drawing on. The emulator command adds a handler.
logging.getLogger("wizard.emulator").addHandler(logging.NullHandler())

__all__ = ["DemoInfo", "DemoTenant", "Fault"]
