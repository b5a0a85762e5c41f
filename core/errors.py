"""The domain's error hierarchy.

Three outcomes (DESIGN.md §3): bad input raises ``ValidationError`` with a message that says
what to fix; a business refusal is a returned decision with reason codes (never raised); a
no-op is reported as such. ``DataError`` marks bad data from outside (a corrupt CSV row, a
malformed tick frame) that a process logs and skips without dying.
"""

from __future__ import annotations


class DeskError(Exception):
    """Base class of every error PaperDesk raises on purpose."""


class ValidationError(DeskError, ValueError):
    """Bad input. The message says what was wrong and what to send instead."""


class DataError(DeskError):
    """Malformed data from outside (file row, wire frame); the caller logs it and skips it."""
