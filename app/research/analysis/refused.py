"""The analysis refusal: a clear "no" that is never retried."""

from __future__ import annotations

from core.errors import DeskError


class AnalysisRefused(DeskError):
    """A clear refusal (never retried). ``code``: ``NO_KEY``, ``BAD_KEY``, ``MODEL_REJECTED``,
    ``REQUEST_REFUSED``, ``BUDGET`` or ``INVALID_ANSWER``. ``offline_available``: the trader
    can ask the offline analyst instead."""

    def __init__(self, message: str, code: str, *, offline_available: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.offline_available = offline_available
