"""Records whose `__init__` is written out (for the compiled build, see
`core.model.record_reduce`) behave as the dataclass's own `__init__` would.

Each dataclass of the package whose `__init__` comes from its source, not from
`dataclasses`, is found by walking the package, so a record that gains a field without its
`__init__` following fails here."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
from typing import Any

import pytest

import maillog_diag


def _written_out() -> list[type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(maillog_diag.__path__, "maillog_diag."):
        if info.name.endswith(".__main__"):
            continue  # (importing it runs the command line)
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if not (isinstance(value, type) and dataclasses.is_dataclass(value)):
                continue
            init = vars(value).get("__init__")
            code = getattr(init, "__code__", None)
            if code is not None and code.co_filename != "<string>":
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


WRITTEN_OUT = _written_out()


def test_the_hot_records_are_found() -> None:
    names = {cls.__name__ for cls in WRITTEN_OUT}
    # Without these the walk found nothing to check (or the source build is not in use).
    if not names:
        pytest.skip("compiled build: `__init__`s have no source to inspect")
    assert {"Delivery", "Message", "Recipient", "Attempt", "LineRef", "DestinationStats"} <= names


def _init_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if f.init]


@pytest.mark.parametrize("cls", WRITTEN_OUT, ids=lambda c: c.__name__)
def test_no_post_init_is_skipped(cls: type) -> None:
    # A written-out `__init__` does not call `__post_init__`, as the generated one would.
    assert not hasattr(cls, "__post_init__")


@pytest.mark.parametrize("cls", WRITTEN_OUT, ids=lambda c: c.__name__)
def test_parameters_are_the_dataclass_fields(cls: type) -> None:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    fields = _init_fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    for param, f in zip(params, fields, strict=True):
        assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, f.name
        if f.default is not dataclasses.MISSING:
            assert param.default == f.default, f.name
            assert type(param.default) is type(f.default), f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert param.default is None, f"{f.name}: None stands for the default factory"
        else:
            assert param.default is inspect.Parameter.empty, f.name


def _required(cls: type) -> dict[str, object]:
    return {
        f.name: f"value of {f.name}"
        for f in _init_fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


@pytest.mark.parametrize("cls", WRITTEN_OUT, ids=lambda c: c.__name__)
def test_defaults_are_the_dataclass_defaults(cls: type) -> None:
    required = _required(cls)
    one, two = cls(**required), cls(**required)
    for f in dataclasses.fields(cls):
        value = getattr(one, f.name)
        if f.name in required:
            assert value == required[f.name]
        elif f.default is not dataclasses.MISSING:
            assert value == f.default and type(value) is type(f.default), f.name
        else:
            made = f.default_factory()  # type: ignore[misc]
            assert value == made and type(value) is type(made), f.name
            assert value is not getattr(two, f.name), f"{f.name} is shared between records"


@pytest.mark.parametrize("cls", WRITTEN_OUT, ids=lambda c: c.__name__)
@pytest.mark.parametrize("how", ["keywords", "positions"])
def test_every_argument_is_stored_in_its_field(cls: type, how: str) -> None:
    given = {f.name: object() for f in _init_fields(cls)}
    made = cls(**given) if how == "keywords" else cls(*given.values())
    for name, value in given.items():
        assert getattr(made, name) is value, name


@pytest.mark.parametrize("cls", WRITTEN_OUT, ids=lambda c: c.__name__)
def test_copies_and_pickles_are_equal(cls: type) -> None:
    record = cls(**_required(cls))
    for twin in (
        copy.copy(record),
        copy.deepcopy(record),
        pickle.loads(pickle.dumps(record)),  # noqa: S301 - our own bytes
    ):
        assert type(twin) is cls
        assert twin == record
    deep = copy.deepcopy(record)
    for f in dataclasses.fields(cls):
        value = getattr(record, f.name)
        if isinstance(value, (list, dict)):
            assert getattr(deep, f.name) is not value, f"{f.name} not copied deeply"
