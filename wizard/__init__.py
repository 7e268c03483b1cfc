"""entra-cert-wizard: certificate authentication for Microsoft Entra ID app registrations."""

__version__ = "0.1.0"

# Here, in the package the process loads first, so the entry point has them before anything else.
INTERRUPTED = "Interrupted: nothing was left half-written."
"""What Ctrl+C prints, from the first moment of the process to the last."""
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what the shell reports for Ctrl+C
