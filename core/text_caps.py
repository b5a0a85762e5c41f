"""Length caps on free text, in one place (issue 16).

Every service boundary that stores or renders text a person or a model wrote checks it
against one of these caps. Two policies, chosen by who wrote the text:

* **Refuse** (``core.validation.require_text``) text a person typed (an approval's reason, a
  reject reason, notes, a watchlist or strategy name, a user name): the desk cannot guess
  which part matters, so the ``ValidationError`` names the field and the cap and the person
  shortens it.
* **Truncate** (``truncate_text``, ending with a visible ``"…"``) machine text: an LLM
  answer's reason and risks, pasted or fetched news before it goes into a prompt. The call
  was paid for and the answer is still useful; the ellipsis shows the text was cut.

Caps are characters (Python ``str`` length after NFC/NFKC as the field says), not bytes.
"""

from __future__ import annotations

#: why a trade was proposed, or why it was rejected/approved (approval card, audit row)
REASON_MAX_CHARS = 500
#: longer free text: notes on a strategy or an analysis, a pasted headline block
NOTES_MAX_CHARS = 2_000
#: who proposed a trade (``source``), a strategy or watchlist name, a user name
NAME_MAX_CHARS = 64
#: an LLM answer's ``reason``
LLM_REASON_MAX_CHARS = 500
#: each of an LLM answer's ``risks``, and how many are kept
LLM_RISK_MAX_CHARS = 200
LLM_RISKS_MAX = 8
#: pasted or fetched text (headlines, a note) put into one prompt, after fencing
UNTRUSTED_TEXT_MAX_CHARS = 8_000
#: how much of a bad value an error message quotes
ERROR_VALUE_MAX_CHARS = 60

ELLIPSIS = "…"


def truncate_text(text: str, cap: int) -> str:
    """``text`` if it has at most ``cap`` characters, else its first ``cap - 1`` characters and
    ``"…"`` (so the result is exactly ``cap`` characters). Machine text only (see above)."""
    if len(text) <= cap:
        return text
    return text[: max(cap - 1, 0)] + ELLIPSIS


def shown(value: object, cap: int = ERROR_VALUE_MAX_CHARS) -> str:
    """``repr(value)`` cut to ``cap`` characters with ``"…"``: the bad value an error quotes."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return truncate_text(text, cap)


__all__ = [
    "ELLIPSIS", "ERROR_VALUE_MAX_CHARS", "LLM_REASON_MAX_CHARS", "LLM_RISKS_MAX", "LLM_RISK_MAX_CHARS",
    "NAME_MAX_CHARS", "NOTES_MAX_CHARS", "REASON_MAX_CHARS", "UNTRUSTED_TEXT_MAX_CHARS", "shown", "truncate_text",
]
