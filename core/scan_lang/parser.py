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

Limits and refusals, each a ``ScanSyntaxError`` with a column (never a ``RecursionError``):

* at most ``MAX_LENGTH`` (2,000) characters;
* at most ``MAX_DEPTH`` (64) nested levels: parentheses, unary minus signs and the operators
  and conditions chained under one another all count (``-(-(close)) > 1`` is 3 levels deep);
* a scan with no field or indicator (``1 > 0``): "the scan compares only constants";
* a constant divisor of 0 (``close / 0``, ``close / (2 - 2)``); a divisor that is 0 only on
  some bars (``close / (high - low)``) gives ``NaN`` there, which never matches, and the
  evaluator counts those symbols (``ScanOutput.zero_division``);
* scientific notation (``1e9``): "scientific notation is not supported; write 1000000000";
  a number too large for a float (more than 308 digits) is refused too.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from core.errors import ValidationError
from core.scan_lang.ast import BOOLEAN, BinOp, BoolOp, Compare, Cross, Neg, Node, Num, Operand, operands
from core.scan_lang.functions import FIELDS, FUNCTIONS

#: Timeframe words → the panel key (Kite interval names).
TIMEFRAMES = {"1 minute": "minute", "5 minute": "5minute", "15 minute": "15minute",
              "30 minute": "30minute", "60 minute": "60minute", "1 hour": "60minute",
              "daily": "day", "weekly": "week"}
_TIMEFRAME_WORDS = {"minute", "minutes", "min", "hour", "hours", "hourly", "daily", "weekly", "monthly",
                    "yearly", "quarterly", "day", "week", "month"}
_KNOWN_TF = "1 minute, 5 minute, 15 minute, 30 minute, 60 minute, daily, weekly"
MAX_LENGTH = 2_000
#: Nested levels a scan may have (parentheses, unary minus, chained operators and conditions).
MAX_DEPTH = 64
CONSTANT_SCAN = "the scan compares only constants; use a field like close"


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
  | (?P<SCI>(?:\d+(?:\.\d+)?|\.\d+)[eE][-+]?\d+)
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
            if kind == "SCI":
                raise ScanSyntaxError(i + 1, "a plain number such as 1000000000", f"'{_clip(text)}'",
                                      f"Scientific notation is not supported; write {_plain(text)}")
            if kind == "NUM" and not math.isfinite(float(text)):
                raise ScanSyntaxError(i + 1, "a number of at most 308 digits", f"'{_clip(text)}'")
            tokens.append(Token(kind, text.lower() if kind == "IDENT" else text, i + 1))
        i = m.end()
    tokens.append(Token("EOF", "", len(source) + 1))
    return tokens


def parse(source: str) -> Node:
    """Parse a scan into its AST (a condition node).

    Raises ``ScanSyntaxError`` (a ``ValidationError``) with the column and what was expected:
    a malformed expression, an unknown indicator or timeframe, a wrong number of arguments, a
    scan that is not a condition (e.g. ``close + 1``), more than ``MAX_DEPTH`` nested levels, a
    scan of constants only (``1 > 0``), a constant divisor of 0, or scientific notation. Never
    raises anything else for a ``str`` of any content.
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
    if not operands(node):
        raise ScanSyntaxError(1, "a field such as close or an indicator such as rsi(14) in the scan",
                              "only numbers", CONSTANT_SCAN[0].upper() + CONSTANT_SCAN[1:])
    return node


class _Parser:
    def __init__(self, source: str, tokens: list[Token]) -> None:
        self.src = source
        self.toks = tokens
        self.i = 0
        self.nesting = 0  # parentheses and unary minus signs open around the current token
        self.depths: dict[int, int] = {}  # id(node) -> levels of the subtree (nodes live in the tree)

    def _levels(self, node: Node) -> int:
        return self.depths.get(id(node), 1)

    def _node(self, node: Node, tok: Token, *children: Node) -> Node:
        """Record ``node``'s depth (1 + its deepest child); refuse more than ``MAX_DEPTH``."""
        depth = 1 + max((self._levels(c) for c in children), default=0)
        if depth > MAX_DEPTH:
            self._too_deep(tok)
        self.depths[id(node)] = depth
        return node

    def _enter(self, tok: Token) -> None:
        """Open one nesting level at ``tok`` (a '(' or a unary '-'), before recursing."""
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            self._too_deep(tok)

    @staticmethod
    def _too_deep(tok: Token) -> None:
        raise ScanSyntaxError(tok.pos, f"at most {MAX_DEPTH} nested levels (parentheses, minus signs, "
                              "operators and conditions inside one another)",
                              f"level {MAX_DEPTH + 1} at {tok.describe()}",
                              "Simplify the scan: remove redundant parentheses or minus signs, or split it")

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
            left = self._node(BoolOp("or", self._cond(left, tok, "left"), self._cond(right, tok, "right"), tok.pos),
                              tok, left, right)
        return left

    def parse_and(self) -> Node:
        left = self.parse_cmp()
        while self._is_kw("and"):
            tok = self.next()
            right = self.parse_cmp()
            left = self._node(BoolOp("and", self._cond(left, tok, "left"), self._cond(right, tok, "right"), tok.pos),
                              tok, left, right)
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
            return self._node(Compare("=" if tok.text == "==" else tok.text, left, right, tok.pos), tok, left, right)
        if self._is_kw("crossed"):
            self.next()
            d = self.peek()
            if not (d.kind == "IDENT" and d.text in ("above", "below")):
                raise ScanSyntaxError(d.pos, "'above' or 'below' after 'crossed'", d.describe())
            self.next()
            right = self.parse_sum()
            self._num(left, tok)
            self._num(right, tok)
            return self._node(Cross(d.text, left, right, tok.pos), tok, left, right)
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
            left = self._node(BinOp(tok.text, left, right, tok.pos), tok, left, right)
        return left

    def parse_product(self) -> Node:
        left = self.parse_unary()
        while self.peek().kind == "OP" and self.peek().text in "*/":
            tok = self.next()
            right = self.parse_unary()
            self._num(left, tok)
            self._num(right, tok)
            if tok.text == "/" and _constant(right) == 0:
                raise ScanSyntaxError(tok.pos, "a divisor that is not the constant 0", "a division by zero",
                                      "Division by zero never matches; divide by a field or a non-zero number")
            left = self._node(BinOp(tok.text, left, right, tok.pos), tok, left, right)
        return left

    def parse_unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "OP" and tok.text == "-":
            self.next()
            self._enter(tok)
            inner = self.parse_unary()
            self.nesting -= 1
            self._num(inner, tok)
            return self._node(Neg(inner, tok.pos), tok, inner)
        if tok.kind == "LPAREN":
            self.next()
            self._enter(tok)
            inner = self.parse_or()
            self.nesting -= 1
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


def _constant(node: Node) -> float | None:
    """The value of an operand-free arithmetic subtree (``2 - 2`` → 0.0), else ``None``.
    Recursion is bounded: the parser has already refused trees deeper than ``MAX_DEPTH``."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Neg):
        inner = _constant(node.operand)
        return None if inner is None else -inner
    if isinstance(node, BinOp):
        a, b = _constant(node.left), _constant(node.right)
        if a is None or b is None:
            return None
        try:
            if node.op == "+":
                return a + b
            if node.op == "-":
                return a - b
            if node.op == "*":
                return a * b
            return a / b if b != 0 else None
        except (OverflowError, ZeroDivisionError):
            return None
    return None


def _clip(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _plain(text: str) -> str:
    """``1e9`` → ``1000000000``, ``2.5E-3`` → ``0.0025``; a huge exponent → a hint instead."""
    mantissa, _, exponent = text.lower().partition("e")
    digits = exponent.lstrip("+-")
    if len(digits) > 2 or int(digits) + len(mantissa) > 24:
        return "the number in full, without an exponent"
    plain = format(Decimal(text), "f")
    if "." in plain:
        plain = plain.rstrip("0").rstrip(".")
    return plain


def _fmt(a: float | str) -> str:
    return str(int(a)) if isinstance(a, float) and a.is_integer() else str(a)
