"""The docstring examples run, the stubs match the compiled module, and the
package ships its typing marker."""

import doctest
import importlib
import inspect
import os

import pytest

import eventbatch
from eventbatch import _core

MODULES = ["eventbatch.schema", "eventbatch.encoder", "eventbatch.readers", "eventbatch.errors",
           "eventbatch.producer", "eventbatch.sinks", "eventbatch.frames", "eventbatch.dedup",
           "eventbatch._infer", "eventbatch.gen", "eventbatch.convert"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_compiled_core_is_in_use():
    assert _core.__file__.endswith((".so", ".pyd"))
    assert _core.CoreEncoder in eventbatch.Encoder.__mro__


def test_stub_names_match_compiled_module():
    pkg = os.path.dirname(eventbatch.__file__)
    stub = open(os.path.join(pkg, "_core.pyi")).read()
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    for name, obj in inspect.getmembers(_core.CoreEncoder):
        if name.startswith("__"):
            continue
        assert f"def {name}(" in stub, f"_core.pyi lacks CoreEncoder.{name}"
    assert "REJECTED_SCHEMA" in stub


def test_error_classes_inherit_builtins():
    assert issubclass(eventbatch.SchemaError, ValueError)
    assert issubclass(eventbatch.FrameError, ValueError)
    assert issubclass(eventbatch.CapacityError, OverflowError)
    for cls in (eventbatch.SchemaError, eventbatch.FrameError, eventbatch.SinkError, eventbatch.CapacityError):
        assert issubclass(cls, eventbatch.EventBatchError)
