"""JSON as the demo tenant reads it from clients: finite numbers, shallow nesting.

Python's `json` accepts `NaN`, `Infinity` and `1e999` (an infinite float), and every
comparison with NaN is false, so an assertion whose `exp` is NaN would never expire. It also
recurses once per nesting level, so `[[[[...` thousands deep ends in a RecursionError.
Entra refuses both as malformed; so does this reader, before anything recurses.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Far deeper than any token header, claim set or fault the demo tenant understands.
MAX_DEPTH = 32


class StrictJsonError(ValueError):
    """The text is not JSON the demo tenant accepts (says why)."""


def loads(data: bytes | str) -> Any:
    """Parse JSON, refusing non-finite numbers, nesting deeper than MAX_DEPTH and bad UTF-8."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise StrictJsonError("The JSON is not UTF-8.") from error
    # Nesting never exceeds the number of openers: most texts skip the character scan.
    openers = text.count("[") + text.count("{")
    if openers > MAX_DEPTH and nesting_depth(text) > MAX_DEPTH:
        raise StrictJsonError(f"The JSON is nested more than {MAX_DEPTH} levels deep.")
    try:
        return _DECODER.decode(text)
    except StrictJsonError:
        raise
    except (ValueError, RecursionError) as error:  # JSONDecodeError, int digit limits
        raise StrictJsonError("The text is not valid JSON.") from error


def nesting_depth(text: str) -> int:
    """The deepest [ or { nesting outside strings (a linear scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise StrictJsonError(f"The JSON holds {name}, which is not a number.")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise StrictJsonError(f"The JSON number {literal[:20]} is too large.")
    return value


# Made once (json.loads with hooks builds a decoder per text); shared by every thread as
# json's own default decoder is.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
