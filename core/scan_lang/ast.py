"""AST nodes of the scan language (immutable dataclasses). ``pos`` is the 1-based column of
the node's first character in the source; ``text`` the exact source of an operand."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Num:
    value: float
    pos: int


@dataclass(frozen=True, slots=True)
class Operand:
    """``[offset] timeframe name(args)``: a field (``close``) or an indicator (``ema``)."""

    offset: int  # bars ago, >= 0
    timeframe: str  # a key of ``parser.TIMEFRAMES`` values, e.g. "5minute", "day", "week"
    name: str
    args: tuple[float | str, ...]  # numbers and field names
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str  # + - * /
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # > >= < <= =
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Cross:
    direction: str  # "above" | "below"
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    left: Node
    right: Node
    pos: int


Node = Num | Operand | Neg | BinOp | Compare | Cross | BoolOp

NUMERIC = (Num, Operand, Neg, BinOp)
BOOLEAN = (Compare, Cross, BoolOp)


def operands(node: Node) -> list[Operand]:
    """Every ``Operand`` in ``node``, left to right."""
    if isinstance(node, Operand):
        return [node]
    if isinstance(node, Num):
        return []
    if isinstance(node, Neg):
        return operands(node.operand)
    return operands(node.left) + operands(node.right)
