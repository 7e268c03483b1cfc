"""The wizard's screens: one per step, on a shared frame (`screens.base`)."""

from screens.base import Nav, StepScreen

__all__ = ["Nav", "StepScreen"]
