"""Tokenizer and recursive-descent parser of the scan language.

Grammar (keywords are case-insensitive; ``[n]`` and ``[-n]`` both mean *n* bars ago;
an operand without a timeframe is ``daily``; ``=`` and ``==`` are the same)::

    scan     := or
    or       := and ("or" and)*
    and      := cmp ("and" cmp)*
    cmp      := sum [ ("> " | ">=" | "<" | "<=" | "=" | "==") sum
                    | "crossed" ("above" | "below") sum ]
    sum      := product (("+" | "-") product)*
    product  := unary (("*" | "/") unary)*
    unary    := "-" unary | NUMBER | "(" or ")" | operand
    operand  := ["[" ["-"] INT "]"] [timeframe] (FIELD | NAME "(" [arg ("," arg)*] ")")
    timeframe:= INT "minute" | "1" "hour" | "daily" | "weekly"
    arg      := NUMBER | FIELD

``and`` binds tighter than ``or``; ``*``/``/`` tighter than ``+``/``-``. The whole scan, and
both sides of ``and``/``or``, must be conditions; both sides of a comparison must be numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import ValidationError
from core.scan_lang.ast import BOOLEAN, BinOp, BoolOp, Compare, Cross, Neg, Node, Num, Operand
from core.scan_lang.functions import FIELDS, FUNCTIONS

#: Timeframe words → the panel key (Kite interval names).
TIMEFRAMES = {"1 minute": "minute", "5 minute": "5minute", "15 minute": "15minute",
              "30 minute": "30minute", "60 minute": "60minute", "1 hour": "60minute",
              "daily": "day", "weekly": "week"}
_TIMEFRAME_WORDS = {"minute", "minutes", "min", "hour", "hours", "hourly", "daily", "weekly", "monthly",
                    "yearly", "quarterly", "day", "week", "month"}
_KNOWN_TF = "1 minute, 5 minute, 15 minute, 30 minute, 60 minute, daily, weekly"
MAX_LENGTH = 2_000


class ScanSyntaxError(ValidationError):
    """A malformed scan. ``column`` is the 1-based position of the mistake, ``expected`` what
    the parser wanted there; the message reads ``column N: expected …, found …``."""

    def __init__(self, column: int, expected: str, found: str, hint: str = "") -> None:
        self.column = column
        self.expected = expected
        self.found = found
        msg = f"column {column}: expected {expected}, found {found}"
        super().__init__(msg + (f". {hint}" if hint else ""))


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # NUM IDENT OP CMP LBRACK RBRACK LPAREN RPAREN COMMA EOF
    text: str
    pos: int  # 1-based column

    def describe(self) -> str:
        return "the end of the scan" if self.kind == "EOF" else f"'{self.text}'"


_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<NUM>\d+(?:\.\d+)?|\.\d+)
  | (?P<IDENT>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<CMP>>=|<=|==|!=|>|<|=)
  | (?P<OP>[-+*/])
  | (?P<LBRACK>\[) | (?P<RBRACK>\]) | (?P<LPAREN>\() | (?P<RPAREN>\)) | (?P<COMMA>,)
""", re.VERBOSE)


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens; raise ``ScanSyntaxError`` at the first bad character."""
    tokens: list[Token] = []
    i = 0
    while i < len(source):
        m = _TOKEN_RE.match(source, i)
        if m is None:
            raise ScanSyntaxError(i + 1, "a number, a name, an operator or a bracket", f"'{source[i]}'")
        kind = m.lastgroup
        if kind != "ws":
            text = m.group()
            if kind == "CMP" and text == "!=":
                raise ScanSyntaxError(i + 1, "one of > >= < <= =", "'!='", "Write the condition the other way round")
            tokens.append(Token(kind, text.lower() if kind == "IDENT" else text, i + 1))
        i = m.end()
    tokens.append(Token("EOF", "", len(source) + 1))
    return tokens


def parse(source: str) -> Node:
    """Parse a scan into its AST (a condition node).

    Raises ``ScanSyntaxError`` (a ``ValidationError``) with the column and what was expected:
    a malformed expression, an unknown indicator or timeframe, a wrong number of arguments, or
    a scan that is not a condition (e.g. ``close + 1``).
    """
    if not isinstance(source, str) or not source.strip():
        raise ScanSyntaxError(1, "a condition such as '[0] daily close > [0] daily sma(close, 20)'", "an empty scan")
    if len(source) > MAX_LENGTH:
        raise ScanSyntaxError(MAX_LENGTH + 1, f"a scan of at most {MAX_LENGTH} characters", f"{len(source)} characters")
    p = _Parser(source, tokenize(source))
    node = p.parse_or()
    tok = p.peek()
    if tok.kind != "EOF":
        raise ScanSyntaxError(tok.pos, "'and', 'or', a comparison or the end of the scan", tok.describe())
    if not isinstance(node, BOOLEAN):
        raise ScanSyntaxError(len(source) + 1, "a comparison such as '> 40' (a scan must be a condition)",
                              "the end of the scan")
    return node


class _Parser:
    def __init__(self, source: str, tokens: list[Token]) -> None:
        self.src = source
        self.toks = tokens
        self.i = 0

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, kind: str, what: str) -> Token:
        tok = self.peek()
        if tok.kind != kind:
            raise ScanSyntaxError(tok.pos, what, tok.describe())
        return self.next()

    def _is_kw(self, word: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "IDENT" and tok.text == word

    # ---- boolean level ------------------------------------------------------------------------

    def parse_or(self) -> Node:
        left = self.parse_and()
        while self._is_kw("or"):
            tok = self.next()
            right = self.parse_and()
            left = BoolOp("or", self._cond(left, tok, "left"), self._cond(right, tok, "right"), tok.pos)
        return left

    def parse_and(self) -> Node:
        left = self.parse_cmp()
        while self._is_kw("and"):
            tok = self.next()
            right = self.parse_cmp()
            left = BoolOp("and", self._cond(left, tok, "left"), self._cond(right, tok, "right"), tok.pos)
        return left

    def _cond(self, node: Node, tok: Token, side: str) -> Node:
        if not isinstance(node, BOOLEAN):
            raise ScanSyntaxError(tok.pos, f"a condition on the {side} of '{tok.text}' (add a comparison such as '> 0')",
                                  f"a number before '{tok.text}'" if side == "left" else f"a number after '{tok.text}'")
        return node

    def parse_cmp(self) -> Node:
        left = self.parse_sum()
        tok = self.peek()
        if tok.kind == "CMP":
            self.next()
            right = self.parse_sum()
            self._num(left, tok)
            self._num(right, tok)
            return Compare("=" if tok.text == "==" else tok.text, left, right, tok.pos)
        if self._is_kw("crossed"):
            self.next()
            d = self.peek()
            if not (d.kind == "IDENT" and d.text in ("above", "below")):
                raise ScanSyntaxError(d.pos, "'above' or 'below' after 'crossed'", d.describe())
            self.next()
            right = self.parse_sum()
            self._num(left, tok)
            self._num(right, tok)
            return Cross(d.text, left, right, tok.pos)
        return left

    def _num(self, node: Node, tok: Token) -> None:
        if isinstance(node, BOOLEAN):
            raise ScanSyntaxError(node.pos, f"a number on each side of '{tok.text}'", "a condition",
                                  "Use parentheses around conditions joined by and/or")

    # ---- arithmetic ---------------------------------------------------------------------------

    def parse_sum(self) -> Node:
        left = self.parse_product()
        while self.peek().kind == "OP" and self.peek().text in "+-":
            tok = self.next()
            right = self.parse_product()
            self._num(left, tok)
            self._num(right, tok)
            left = BinOp(tok.text, left, right, tok.pos)
        return left

    def parse_product(self) -> Node:
        left = self.parse_unary()
        while self.peek().kind == "OP" and self.peek().text in "*/":
            tok = self.next()
            right = self.parse_unary()
            self._num(left, tok)
            self._num(right, tok)
            left = BinOp(tok.text, left, right, tok.pos)
        return left

    def parse_unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "OP" and tok.text == "-":
            self.next()
            inner = self.parse_unary()
            self._num(inner, tok)
            return Neg(inner, tok.pos)
        if tok.kind == "LPAREN":
            self.next()
            inner = self.parse_or()
            self.expect("RPAREN", "')' to close the '(' at column %d" % tok.pos)
            return inner
        if tok.kind == "NUM" and not self._timeframe_ahead():
            self.next()
            return Num(float(tok.text), tok.pos)
        if tok.kind in ("LBRACK", "IDENT", "NUM"):
            return self.parse_operand()
        raise ScanSyntaxError(tok.pos, "a number, a field such as 'close', an indicator such as 'rsi(14)', "
                              "'[0]' or '('", tok.describe())

    def _timeframe_ahead(self) -> bool:
        nxt = self.peek(1)
        return nxt.kind == "IDENT" and nxt.text in _TIMEFRAME_WORDS

    # ---- operands -----------------------------------------------------------------------------

    def parse_operand(self) -> Operand:
        start = self.peek().pos
        offset = 0
        if self.peek().kind == "LBRACK":
            self.next()
            neg = self.peek().kind == "OP" and self.peek().text == "-"
            if neg:
                self.next()
            n = self.peek()
            if n.kind != "NUM" or not n.text.isdigit():
                raise ScanSyntaxError(n.pos, "a whole number of bars ago, such as [0] or [1]", n.describe())
            self.next()
            offset = int(n.text)
            self.expect("RBRACK", "']' after the bar offset")
        timeframe = self.parse_timeframe()
        tok = self.peek()
        if tok.kind != "IDENT":
            raise ScanSyntaxError(tok.pos, "a field (open, high, low, close, volume) or an indicator such as ema(close, 20)",
                                  tok.describe())
        if tok.text in _TIMEFRAME_WORDS:
            raise ScanSyntaxError(tok.pos, f"a timeframe ({_KNOWN_TF})", tok.describe(), "Unknown timeframe")
        self.next()
        name = tok.text
        args: list[float | str] = []
        if name in FIELDS and self.peek().kind != "LPAREN":
            end = tok.pos + len(tok.text) - 1
            return Operand(offset, timeframe, name, (), start, self.src[start - 1:end])
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            if self.peek().kind == "LPAREN":
                raise ScanSyntaxError(tok.pos, "a known indicator", f"'{name}'", f"Unknown indicator; known: {known}")
            raise ScanSyntaxError(tok.pos, "a field (open, high, low, close, volume) or an indicator call",
                                  f"'{name}'", f"Unknown name; indicators: {known}")
        self.expect("LPAREN", f"'(' after the indicator '{name}'")
        if self.peek().kind != "RPAREN":
            while True:
                args.append(self.parse_arg(name))
                if self.peek().kind == "COMMA":
                    self.next()
                    continue
                break
        close = self.expect("RPAREN", f"',' or ')' in the arguments of {name}")
        spec = FUNCTIONS[name]
        try:
            norm = spec.normalise(tuple(args))
        except ValidationError as exc:
            raise ScanSyntaxError(tok.pos, spec.usage, f"{name}({', '.join(str(_fmt(a)) for a in args)})", str(exc)) from None
        return Operand(offset, timeframe, name, norm, start, self.src[start - 1:close.pos])

    def parse_arg(self, fname: str) -> float | str:
        tok = self.peek()
        if tok.kind == "NUM":
            self.next()
            return float(tok.text)
        if tok.kind == "IDENT" and tok.text in FIELDS:
            self.next()
            return tok.text
        raise ScanSyntaxError(tok.pos, f"a number or a field (open, high, low, close, volume) as an argument of {fname}",
                              tok.describe())

    def parse_timeframe(self) -> str:
        tok = self.peek()
        if tok.kind == "NUM" and self._timeframe_ahead():
            unit = self.peek(1)
            word = "minute" if unit.text in ("minute", "minutes", "min") else unit.text
            label = f"{tok.text} {word}"
            if label not in TIMEFRAMES:
                raise ScanSyntaxError(tok.pos, f"a timeframe ({_KNOWN_TF})", f"'{tok.text} {unit.text}'", "Unknown timeframe")
            self.next()
            self.next()
            return TIMEFRAMES[label]
        if tok.kind == "IDENT" and tok.text in ("daily", "weekly"):
            self.next()
            return TIMEFRAMES[tok.text]
        if tok.kind == "IDENT" and tok.text in _TIMEFRAME_WORDS:
            raise ScanSyntaxError(tok.pos, f"a timeframe ({_KNOWN_TF})", tok.describe(), "Unknown timeframe")
        return "day"


def _fmt(a: float | str) -> str:
    return str(int(a)) if isinstance(a, float) and a.is_integer() else str(a)
