"""Find the ``App`` or ``Topology`` behind ``module:attr`` (or ``module:factory()``).

Each way locating can fail has its own message: a malformed target, a module that does not
exist, a module that fails to import, a missing attribute, a factory that needs arguments
or raises, and an object of the wrong type.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import traceback
from typing import Any

from streamlet.app import App
from streamlet.errors import LocateError
from streamlet.topology.topology import Topology


def locate(target: str) -> App | Topology:
    """Import ``module`` (from the current directory first) and resolve ``attr``."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise LocateError(
            f"target {target!r} must look like 'module:attr' or 'module:factory()', "
            "e.g. 'wordcount:app'"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module_name or module_name.startswith(exc.name + ".")):
            raise LocateError(
                f"no module named {module_name!r} (looked in the current directory and sys.path)"
            ) from exc
        raise LocateError(
            f"module {module_name!r} failed to import: {exc}\n{traceback.format_exc()}"
        ) from exc
    except Exception as exc:
        raise LocateError(
            f"module {module_name!r} failed to import: {type(exc).__name__}: {exc}\n"
            f"{traceback.format_exc()}"
        ) from exc
    call = attr.endswith("()")
    name = attr[:-2] if call else attr
    if not name.isidentifier():
        raise LocateError(f"{attr!r} is not an attribute name (in target {target!r})")
    try:
        obj = getattr(module, name)
    except AttributeError:
        raise LocateError(f"module {module_name!r} has no attribute {name!r}") from None
    if call or (callable(obj) and not isinstance(obj, App | Topology)):
        obj = _call_factory(obj, f"{module_name}:{name}")
    if not isinstance(obj, App | Topology):
        raise LocateError(
            f"{target!r} is a {type(obj).__name__}, not a streamlet App or Topology "
            "(or a zero-argument factory returning one)"
        )
    return obj


def _call_factory(factory: Any, label: str) -> Any:
    if not callable(factory):
        raise LocateError(f"{label} is a {type(factory).__name__} and cannot be called")
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        required = [
            p.name
            for p in signature.parameters.values()
            if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        if required:
            raise LocateError(
                f"factory {label} must take no arguments, but requires {', '.join(required)}"
            )
    try:
        return factory()
    except Exception as exc:
        raise LocateError(
            f"factory {label}() raised {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        ) from exc
