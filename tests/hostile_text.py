"""Hostile text for the output tests: what an attacker can put in a certificate, a file name,
a server's answer or profiles.json, and how to find a raw control character in what we show."""

from __future__ import annotations

import json
import re
from pathlib import Path

ESC_CSI = "\x1b[2J\x1b[8m"  # clear the screen, then hide what follows
OSC_52 = "\x1b]52;c;aGFja2Vk\x07"  # write the clipboard
OSC_8 = "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\"  # a hyperlink
BEL = "\x07"
CR = "\rfake line"  # back to the line's start: what follows overwrites what was shown
RLO = "\u202egpj.exe"  # right-to-left override
C1_CSI = "\x9b31m"  # the one-byte CSI
HOSTILE_PIECES = (ESC_CSI, OSC_52, OSC_8, BEL, CR, RLO, C1_CSI)
HOSTILE = "Evil" + "".join(HOSTILE_PIECES)
HOSTILE_IN_FILE_NAME = HOSTILE.replace("/", "_")  # a file name cannot hold a slash

MARKUP_NAMES = ("App [Prod]", "Srv[/]", '[link="https://evil.example/"]x')

# What must never reach a terminal raw (tab and newline are the output's own layout).
_RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def make_hostile_tenant_state(state: Path) -> None:
    """A demo tenant state folder whose organization name, domain and app roles carry
    hostile text (a trainer's tenant opened with --allow-remote can say anything)."""
    from wizard.emulator.directory import STATE_FILE, Directory

    Directory(state)
    data = json.loads((state / STATE_FILE).read_text(encoding="utf-8"))
    data["tenant"]["display_name"] = f"Contoso{HOSTILE}"
    data["tenant"]["domain"] = f"contoso{OSC_52}.example"
    for app in data["applications"]:
        app["requested_roles"].append(f"Role{HOSTILE}")
    (state / STATE_FILE).write_text(json.dumps(data), encoding="utf-8")


def raw_controls(text: str | bytes) -> list[str]:
    """The raw control and bidi characters in `text` (bytes are read as the terminal would)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return _RAW.findall(text)
