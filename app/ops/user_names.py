"""Look-alike user names (issue 16, item 6): a name whose *skeleton* equals an existing
user's is refused, so "аlice" with a Cyrillic ``а`` cannot be created next to ``alice``.

The skeleton follows the idea of Unicode TR39 §4 (confusable detection): the name is NFKC
normalised and lower-cased (``core.auth.check_username``), then each character is replaced by
one prototype of its confusable class, taken from the TR39 ``confusables.txt`` data shipped by
``confusable-homoglyphs`` (pinned in requirements.txt): the ASCII member of the class when
there is one, else the lowest code point. Two names are confusable when their skeletons
are equal. The table is read once, lazily (package data, no network).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

_MARKS = "\u200e\u200f"  # the data wraps right-to-left letters in direction marks


@lru_cache(maxsize=1)
def _classes() -> dict[str, list[str]]:
    from confusable_homoglyphs.confusables import confusables_data

    return confusables_data


def _rank(ch: str) -> tuple[bool, int]:
    return (not ch.isascii(), ord(ch))


@lru_cache(maxsize=4096)
def prototype(ch: str) -> str:
    """The one character that stands for ``ch``'s confusable class (``ch`` when it has none)."""
    members = [ch]
    for glyph in _classes().get(ch, ()):
        text = glyph["c"].strip(_MARKS)
        if len(text) == 1:
            members.append(text)
    return min(members, key=_rank).lower()


def skeleton(name: str) -> str:
    """The skeleton of ``name`` (already canonical: NFKC, lower case): every character as its
    class's prototype, then NFKC again: ``skeleton("аlice") == skeleton("alice")`` (both "a1ice")."""
    return unicodedata.normalize("NFKC", "".join(prototype(c) for c in unicodedata.normalize("NFKC", name)))


def look_alike(name: str, existing: Iterable[str]) -> str | None:
    """The first of ``existing`` that is a *different* name with the same skeleton as ``name``."""
    mine = skeleton(name)
    for other in existing:
        if other != name and skeleton(other) == mine:
            return other
    return None


__all__ = ["look_alike", "prototype", "skeleton"]
