"""``locate("module:attr")``: what it finds, and one precise ``LocateError`` per failure.

Target modules are written to ``tmp_path`` under names unique to each test, because
``sys.modules`` remembers every module once imported.
"""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import streamlet as sl
from streamlet.locate import locate

MakeModule = Callable[..., str]

_APP = """
import streamlet as sl

app = sl.App("located")
app.stream("in").to("out")
"""


def _unique(stem: str) -> str:
    return f"{stem}_{uuid.uuid4().hex[:10]}"


# -- what it finds -------------------------------------------------------------------------
def test_locate_returns_app(make_module: MakeModule) -> None:
    module = make_module(_APP)

    found = locate(f"{module}:app")

    assert found is sys.modules[module].app
    assert isinstance(found, sl.App)


def test_locate_returns_topology(make_module: MakeModule) -> None:
    module = make_module(_APP + "\ntopology = app.topology()\n")

    found = locate(f"{module}:topology")

    assert isinstance(found, sl.Topology)
    assert found.application_id == "located"


def test_locate_calls_zero_argument_factory(make_module: MakeModule) -> None:
    module = make_module(
        """
        import streamlet as sl

        def make_app():
            app = sl.App("from-factory")
            app.stream("in").to("out")
            return app
        """
    )

    found = locate(f"{module}:make_app")

    assert isinstance(found, sl.App)
    assert found.application_id == "from-factory"


def test_locate_calls_factory_when_target_ends_with_parentheses(make_module: MakeModule) -> None:
    module = make_module(
        """
        import streamlet as sl

        def make_topology():
            app = sl.App("from-call")
            app.stream("in").to("out")
            return app.topology()
        """
    )

    found = locate(f"{module}:make_topology()")

    assert isinstance(found, sl.Topology)
    assert found.application_id == "from-call"


def test_locate_calls_factory_whose_arguments_all_have_defaults(make_module: MakeModule) -> None:
    module = make_module(
        """
        import streamlet as sl

        def make_app(application_id="with-defaults", *, servers="localhost:9092"):
            return sl.App(application_id, bootstrap_servers=servers)
        """
    )

    found = locate(f"{module}:make_app")

    assert isinstance(found, sl.App)
    assert found.application_id == "with-defaults"


def test_locate_finds_module_in_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _unique("locate_cwd")
    (tmp_path / f"{module}.py").write_text(_APP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    importlib.invalidate_caches()
    try:
        assert isinstance(locate(f"{module}:app"), sl.App)
    finally:
        sys.modules.pop(module, None)


# -- malformed targets ---------------------------------------------------------------------
@pytest.mark.parametrize("target", ["wordcount", "wordcount:", ":app", ":", ""])
def test_locate_raises_when_target_malformed(target: str) -> None:
    with pytest.raises(sl.LocateError) as info:
        locate(target)

    assert str(info.value) == (
        f"target {target!r} must look like 'module:attr' or 'module:factory()', "
        "e.g. 'wordcount:app'"
    )


@pytest.mark.parametrize("attr", ["app.inner", "1app", "make app()", "app()()"])
def test_locate_raises_when_attribute_is_not_a_name(make_module: MakeModule, attr: str) -> None:
    module = make_module(_APP)

    with pytest.raises(sl.LocateError) as info:
        locate(f"{module}:{attr}")

    assert str(info.value) == f"{attr!r} is not an attribute name (in target '{module}:{attr}')"


# -- modules that cannot be imported -------------------------------------------------------
def test_locate_raises_when_module_not_found(make_module: MakeModule) -> None:
    make_module(_APP)  # the cwd and sys.path are set up, but hold no such module
    module = _unique("locate_missing")

    with pytest.raises(sl.LocateError) as info:
        locate(f"{module}:app")

    assert str(info.value) == (
        f"no module named {module!r} (looked in the current directory and sys.path)"
    )


def test_locate_raises_when_dotted_module_not_found(make_module: MakeModule) -> None:
    package = make_module("")

    with pytest.raises(sl.LocateError, match=f"^no module named '{package}.nope' "):
        locate(f"{package}.nope:app")


def test_locate_reports_import_failure_when_module_imports_missing_module(
    make_module: MakeModule,
) -> None:
    dependency = _unique("locate_dependency")
    module = make_module(f"import {dependency}\n")

    with pytest.raises(sl.LocateError) as info:
        locate(f"{module}:app")

    message = str(info.value)
    assert message.startswith(f"module {module!r} failed to import: No module named {dependency!r}")
    assert f"{module}.py" in message  # the traceback points into the user's module


def test_locate_reports_import_failure_when_missing_module_name_is_prefix(
    make_module: MakeModule,
) -> None:
    dependency = _unique("locate_prefix")
    module = make_module(f"import {dependency}\n", name=f"{dependency}_app")

    with pytest.raises(sl.LocateError, match=f"^module '{module}' failed to import"):
        locate(f"{module}:app")


def test_locate_raises_with_exception_when_module_raises_on_import(
    make_module: MakeModule,
) -> None:
    module = make_module(
        """
        def _load_settings():
            raise ValueError("STREAMLET_ENV is not set")

        _load_settings()
        """
    )

    with pytest.raises(sl.LocateError) as info:
        locate(f"{module}:app")

    message = str(info.value)
    assert message.startswith(
        f"module {module!r} failed to import: ValueError: STREAMLET_ENV is not set\n"
    )
    assert "Traceback" in message
    assert "_load_settings" in message
    assert isinstance(info.value.__cause__, ValueError)


def test_locate_raises_with_exception_when_module_has_syntax_error(
    make_module: MakeModule,
) -> None:
    module = make_module("app = (\n")

    with pytest.raises(sl.LocateError, match=f"^module '{module}' failed to import: SyntaxError"):
        locate(f"{module}:app")


# -- attributes ----------------------------------------------------------------------------
def test_locate_raises_when_attribute_missing(make_module: MakeModule) -> None:
    module = make_module(_APP)

    with pytest.raises(sl.LocateError) as info:
        locate(f"{module}:application")

    assert str(info.value) == f"module {module!r} has no attribute 'application'"


def test_locate_raises_when_factory_attribute_missing(make_module: MakeModule) -> None:
    module = make_module(_APP)

    with pytest.raises(sl.LocateError) as info:
        locate(f"{module}:make_app()")

    assert str(info.value) == f"module {module!r} has no attribute 'make_app'"


@pytest.mark.parametrize(
    ("source", "kind"),
    [("app = 42\n", "int"), ("app = {'id': 'x'}\n", "dict"), ("import os as app\n", "module")],
)
def test_locate_raises_when_object_has_wrong_type(
    make_module: MakeModule, source: str, kind: str
) -> None:
    module = make_module(source)

    with pytest.raises(sl.LocateError) as info:
        locate(f"{module}:app")

    assert str(info.value) == (
        f"'{module}:app' is a {kind}, not a streamlet App or Topology "
        "(or a zero-argument factory returning one)"
    )


def test_locate_raises_when_factory_returns_wrong_type(make_module: MakeModule) -> None:
    module = make_module("def make_app():\n    return {'id': 'x'}\n")

    with pytest.raises(sl.LocateError, match="is a dict, not a streamlet App or Topology"):
        locate(f"{module}:make_app")


# -- factories -----------------------------------------------------------------------------
def test_locate_raises_when_factory_needs_arguments(make_module: MakeModule) -> None:
    module = make_module(
        """
        def make_app(application_id, servers, *, state_dir, debug=False):
            raise AssertionError("must not be called")
        """
    )

    with pytest.raises(sl.LocateError) as info:
        locate(f"{module}:make_app")

    assert str(info.value) == (
        f"factory {module}:make_app must take no arguments, "
        "but requires application_id, servers, state_dir"
    )


def test_locate_raises_when_called_factory_needs_arguments(make_module: MakeModule) -> None:
    module = make_module("def make_app(application_id):\n    raise AssertionError\n")

    with pytest.raises(sl.LocateError) as info:
        locate(f"{module}:make_app()")

    assert str(info.value) == (
        f"factory {module}:make_app must take no arguments, but requires application_id"
    )


def test_locate_raises_with_exception_when_factory_raises(make_module: MakeModule) -> None:
    module = make_module(
        """
        def make_app():
            raise RuntimeError("no bootstrap servers configured")
        """
    )

    with pytest.raises(sl.LocateError) as info:
        locate(f"{module}:make_app")

    message = str(info.value)
    assert message.startswith(
        f"factory {module}:make_app() raised RuntimeError: no bootstrap servers configured\n"
    )
    assert "Traceback" in message
    assert isinstance(info.value.__cause__, RuntimeError)


def test_locate_raises_when_called_target_is_not_callable(make_module: MakeModule) -> None:
    module = make_module(_APP)

    with pytest.raises(sl.LocateError) as info:
        locate(f"{module}:app()")

    assert str(info.value) == f"{module}:app is a App and cannot be called"


def test_locate_errors_are_streamlet_errors() -> None:
    with pytest.raises(sl.StreamletError):
        locate("no-colon")
