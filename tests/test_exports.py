"""Each module's ``__all__`` lists exactly its public names (style.md habit 5)."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import adapters
import gateway
import sandbox


def modules() -> list[str]:
    names = []
    for package in (adapters, gateway, sandbox):
        for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
            if not info.name.rsplit(".", 1)[-1].startswith("_"):
                names.append(info.name)
    return names


@pytest.mark.parametrize("name", modules())
def test_all_lists_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        pytest.skip(f"{name} only groups other modules: it exports nothing of its own")
    # Classes and functions defined here without a leading underscore are public.
    public = {
        key
        for key, value in vars(module).items()
        if not key.startswith("_")
        and isinstance(value, type | types.FunctionType)
        and value.__module__ == name
    }
    assert set(exported) >= public, f"{name}: not in __all__: {sorted(public - set(exported))}"
    for key in exported:
        assert hasattr(module, key), f"{name}.__all__ names missing {key!r}"
