"""Which instruments a headline names: company names, tradingsymbols and a few aliases.

Precision over recall: a wrong tag puts a story on the wrong chart and into the wrong
analysis, a missed tag only leaves it on Home. So:

* **Whole words only.** A match may not touch a letter, digit or ``&`` on either side
  (``"TCS"`` is found in ``"TCS's Q3"`` and ``"TCS-led rally"``, not in ``"ETCS"``); white
  space inside a name matches any white space.
* **Names** come from NSE's NIFTY 500 list (``"Larsen & Toubro Ltd."``) and the instruments
  master (``"LARSEN & TOUBRO"``), without the legal suffix (``Ltd.``, ``Limited``) or a
  leading ``The``; ``"Maruti Suzuki India"`` also gives ``"Maruti Suzuki"``. A name with a
  distinctive word matches in any case. A name made only of generic words (:data:`GENERIC_WORDS`:
  ``"Coal India"``, ``"Indian Bank"``) matches only as the list writes it (case-sensitive), and
  not at all from the upper-case master; a one-word generic name never matches.
* **Tradingsymbols** match case-sensitively in upper case (``"ITC"``, ``"M&M"``), at least
  three characters (or containing ``&``), and never when the symbol is a generic word
  (``OIL``, ``IDEA``, ``BSE``…: headlines use those words for other things).
* **Aliases** (:data:`ALIASES`): the short names the Indian financial press uses (``RIL``,
  ``L&T``, ``SBI``, ``HUL``, ``Airtel``), case-sensitive.
* **Ambiguity**: a form claimed by two instruments is dropped. Overlaps: the longest match
  wins (``"Mahindra & Mahindra Financial Services"`` is M&MFIN, not M&M).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: words that alone (or together) do not name one company in a market headline
GENERIC_WORDS = frozenset("""
india indian bank banks of the and & co power capital finance financial fin industries industry energy
oil gas natural steel cement motors motor auto life insurance general services service technologies
technology tech infra infrastructure housing ports port pharma pharmaceuticals chemicals foods food global
international national hotels hotel media telecom airlines market markets exchange stock stocks share shares
company corporation corp trust holdings ventures enterprises solutions systems limited group new star sun
gold silver metro union central federal home first prime max idea coal retail realty electric electricals
engineering products consumer digital data software networks asset management securities investment
investments commercial credit money mutual fund funds bse nse sail oil india
""".split())

#: the press's short names (tradingsymbol -> forms, case-sensitive); used when that symbol is tagged at all
ALIASES: dict[str, tuple[str, ...]] = {
    "RELIANCE": ("RIL", "Reliance Industries"),
    "LT": ("L&T", "Larsen"),
    "SBIN": ("SBI",),
    "BHARTIARTL": ("Airtel",),
    "HINDUNILVR": ("HUL",),
    "INFY": ("Infosys",),
    "MARUTI": ("Maruti",),
    "KOTAKBANK": ("Kotak Bank", "Kotak"),
    "TCS": ("Tata Consultancy",),
    "SUNPHARMA": ("Sun Pharma",),
    "BAJFINANCE": ("Bajaj Finance",),
    "ULTRACEMCO": ("UltraTech", "Ultratech"),
    "COALINDIA": ("CIL",),
    "OIL": ("Oil India",),
    "IDEA": ("Vodafone Idea", "Vi"),
    "NAUKRI": ("Info Edge", "Naukri"),
    "ETERNAL": ("Zomato",),
    "BSE": ("BSE Ltd",),
    "TITAN": ("Titan",),
}

_SUFFIX = re.compile(r"[\s,]*\b(?:ltd\.?|limited|co\.?\s+ltd\.?)\s*$", re.IGNORECASE)
_PAREN = re.compile(r"\s*\((?:india)\)\s*", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9&]+")


@dataclass(frozen=True, slots=True)
class Alias:
    """One form that names an instrument: ``text`` as written, matched ``case_sensitive`` or not."""

    instrument_token: int
    tradingsymbol: str
    text: str
    case_sensitive: bool


@dataclass(frozen=True, slots=True)
class Tag:
    """An instrument a text names, and the first form that matched (as written in the text)."""

    instrument_token: int
    tradingsymbol: str
    matched: str


def _generic(name: str) -> bool:
    words = [w.lower() for w in _WORD.findall(name)]
    return not words or all(w in GENERIC_WORDS for w in words)


def _bare(name: str) -> str:
    text = _PAREN.sub(" ", " ".join(name.split()))
    text = _SUFFIX.sub("", text).strip()
    if text.lower().startswith("the "):
        text = text[4:]
    return text.strip(" ,.")


def _name_forms(name: str, *, proper_case: bool) -> list[tuple[str, bool]]:
    """``(form, case_sensitive)`` for one company name (see the module docstring)."""
    bare = _bare(name)
    out: list[tuple[str, bool]] = []
    for form in dict.fromkeys([bare, re.sub(r"\s+india$", "", bare, flags=re.IGNORECASE)]):
        words = _WORD.findall(form)
        if not words:
            continue
        if not _generic(form):
            # a one-word name is matched as written (Cipla / CIPLA), a longer one in any case
            out.append((form, len(words) == 1 and proper_case))
            if len(words) == 1 and proper_case:
                out.append((form.upper(), True))
        elif proper_case and len(words) > 1 and form == bare:
            out.append((form, True))
    return out


def aliases_for(instruments: Iterable[tuple[int, str, Iterable[str], Iterable[str]]]) -> list[Alias]:
    """Every form of every instrument, ambiguous ones dropped.

    ``instruments``: ``(instrument_token, tradingsymbol, proper_names, master_names)``:
    ``proper_names`` as a list writes them (``"Larsen & Toubro Ltd."``, NIFTY 500 list),
    ``master_names`` in the master's upper case (``"LARSEN & TOUBRO"``)."""
    forms: dict[tuple[str, bool], set[tuple[int, str]]] = {}
    written: dict[tuple[str, bool], str] = {}

    def add(token: int, symbol: str, text: str, case_sensitive: bool) -> None:
        key = (text if case_sensitive else text.casefold(), case_sensitive)
        forms.setdefault(key, set()).add((token, symbol))
        written.setdefault(key, text)

    for token, symbol, proper, master in instruments:
        symbol = symbol.upper()
        for name in proper:
            for form, cs in _name_forms(name, proper_case=True):
                add(token, symbol, form, cs)
        for name in master:
            for form, cs in _name_forms(name, proper_case=False):
                add(token, symbol, form, cs)
        if (len(symbol) >= 3 or "&" in symbol) and symbol.lower() not in GENERIC_WORDS:
            add(token, symbol, symbol, True)
        for alias in ALIASES.get(symbol, ()):
            add(token, symbol, alias, True)
    out = []
    for key, owners in forms.items():
        if len({t for t, _ in owners}) != 1:
            continue
        (token, symbol), = owners
        out.append(Alias(token, symbol, written[key], key[1]))
    return sorted(out, key=lambda a: (-len(a.text), a.text))


def _pattern(aliases: list[Alias], flags: int) -> re.Pattern[str] | None:
    if not aliases:
        return None
    parts = [r"\s+".join(re.escape(w) for w in a.text.split()) for a in aliases]
    return re.compile(r"(?<![\w&])(?:" + "|".join(parts) + r")(?![\w&])", flags)


class Tagger:
    """Tags texts with the instruments they name (see the module docstring). Build once from
    :func:`aliases_for` (a NIFTY 500 universe compiles in a few milliseconds); ``tag`` is pure."""

    def __init__(self, aliases: Iterable[Alias]) -> None:
        aliases = sorted(aliases, key=lambda a: (-len(a.text), a.text))
        self._exact = {a.text: a for a in aliases if a.case_sensitive}
        self._folded = {a.text.casefold(): a for a in aliases if not a.case_sensitive}
        self._cs = _pattern([a for a in aliases if a.case_sensitive], 0)
        self._ci = _pattern([a for a in aliases if not a.case_sensitive], re.IGNORECASE)

    def _lookup(self, found: str, case_sensitive: bool) -> Alias | None:
        norm = " ".join(found.split())
        return self._exact.get(norm) if case_sensitive else self._folded.get(norm.casefold())

    def tag(self, text: str) -> list[Tag]:
        """The instruments ``text`` names, in order of first mention, each once."""
        if not isinstance(text, str) or not text:
            return []
        spans: list[tuple[int, int, Alias]] = []
        for pattern, cs in ((self._cs, True), (self._ci, False)):
            if pattern is None:
                continue
            for m in pattern.finditer(text):
                alias = self._lookup(m.group(0), cs)
                if alias is not None:
                    spans.append((m.start(), m.end(), alias))
        spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        out: dict[int, Tag] = {}
        end = -1
        for start, stop, alias in spans:
            if start < end:  # inside a longer match already taken
                continue
            end = stop
            out.setdefault(alias.instrument_token, Tag(alias.instrument_token, alias.tradingsymbol,
                                                       text[start:stop]))
        return list(out.values())


__all__ = ["ALIASES", "GENERIC_WORDS", "Alias", "Tag", "Tagger", "aliases_for"]
