"""pandas without pyarrow, for the processes that never hand a DataFrame to Arrow.

pandas 3 imports pyarrow whenever it is installed (``pandas.compat.pyarrow``, at ``import
pandas``) and then backs its ``str`` columns with it. The desk installs pyarrow only because
Streamlit needs it (``st.dataframe`` sends frames as Arrow); nothing in ``app``, ``core`` or
``workers`` uses Arrow. Loading it costs ~32 MB RSS (mostly libarrow's shared libraries) in each
process that imports pandas.

:func:`without_pyarrow` is called first thing by the entry points of the processes that use
pandas but never Streamlit (``python -m workers.replay``, ``python -m workers.strategy_runner``,
``python -m app.api``): ``import pyarrow`` then fails in that process (Python's import system
refuses a module whose ``sys.modules`` entry is ``None``), and pandas falls back to its own
Python-backed storage for the same ``str`` dtype (pandas 3.0 release notes, "Dedicated string
data type by default": pyarrow when installed, else Python objects; same values and missing
value semantics). The web process keeps pyarrow. It is never called at import time, so a test
process that imports these modules is unaffected.
"""

from __future__ import annotations

import sys


def without_pyarrow() -> bool:
    """Make ``import pyarrow`` fail in this process from now on, if it is not too late.

    Returns ``True`` when pyarrow is blocked (now or already), ``False`` when pandas or pyarrow
    was already imported (nothing is changed then: a loaded pandas keeps its storage).
    """
    if sys.modules.get("pyarrow", ...) is None:
        return True
    if "pyarrow" in sys.modules or "pandas" in sys.modules:
        return False
    sys.modules["pyarrow"] = None  # type: ignore[assignment]
    return True
