"""A Chartink-like scan language: tokenised and parsed to an AST, evaluated over bar panels.

Never ``eval``: the grammar (``parser``) builds dataclass nodes (``ast``), and the evaluator
(``evaluator``) walks them over NumPy panels (``panel``; bars × symbols) with the vectorised
indicator kernels of ``kernels``. Example::

    [0] 5 minute close > [0] 5 minute ema(close, 20) and [0] daily rsi(14) < 40

Errors are ``ScanSyntaxError`` (a ``ValidationError``) naming the 1-based column of the
mistake and what was expected there.
"""

from core.scan_lang.ast import Node
from core.scan_lang.evaluator import ScanOutput, evaluate, required_bars, timeframes
from core.scan_lang.functions import FUNCTIONS
from core.scan_lang.panel import Panel, build_panel
from core.scan_lang.parser import TIMEFRAMES, ScanSyntaxError, parse

__all__ = ["FUNCTIONS", "TIMEFRAMES", "Node", "Panel", "ScanOutput", "ScanSyntaxError", "build_panel",
           "evaluate", "parse", "required_bars", "timeframes"]
