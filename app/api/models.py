"""Response models for the OpenAPI page, derived from the services' own view dataclasses
(``app.trading.views``, ``core.charges.Charges``), so the API shows the pages' shapes without a
second copy of them: every ``Decimal`` field (₹, percent) becomes a JSON number, a nested view
its own model, ``tuple[X, ...]`` a list; names and the other types are kept as they are.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from decimal import Decimal
from functools import lru_cache
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, create_model


def _field_type(tp: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Decimal:
        return float
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return model_of(tp)
    if origin in (Union, types.UnionType):
        return Union[tuple(_field_type(a) for a in args)]  # noqa: UP007 - built at run time
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return list[_field_type(args[0])]
        return tuple[tuple(_field_type(a) for a in args)]
    if origin in (list, set, frozenset):
        return list[_field_type(args[0])] if args else list
    if origin is dict:
        return dict[args[0], _field_type(args[1])] if args else dict
    return tp


@lru_cache(maxsize=None)
def model_of(cls: type) -> type[BaseModel]:
    """A pydantic model with ``cls``'s fields (and its ``total`` property, for ``Charges``)."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {f.name: (_field_type(hints[f.name]), ...) for f in dataclasses.fields(cls)}
    if isinstance(getattr(cls, "total", None), property):
        fields["total"] = (float, ...)
    return create_model(cls.__name__, __config__=ConfigDict(extra="allow"), __doc__=cls.__doc__, **fields)


__all__ = ["model_of"]
