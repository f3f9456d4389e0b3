"""portrait_mobile.registry: the named configs of the model and of the refiner."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from portrait_mobile.registry import Registry


@dataclass(frozen=True)
class Thing:
    name: str


def test_a_name_is_registered_once_and_unknown_names_list_the_known() -> None:
    reg: Registry[Thing] = Registry("thing", error=LookupError)
    a = reg.register(Thing("a"))
    assert reg.get("a") is a and reg.names() == ["a"]
    with pytest.raises(ValueError, match="'a' is already registered"):
        reg.register(Thing("a"))
    with pytest.raises(LookupError, match="unknown thing 'b'; known: a"):
        reg.get("b")


def test_both_config_registries_use_it() -> None:
    from portrait_mobile import config
    from portrait_mobile.refine import config as rconfig

    with pytest.raises(ValueError, match="already registered"):
        config.register(config.get_config(config.DEFAULT_CONFIG))
    with pytest.raises(ValueError, match="already registered"):
        rconfig.register(rconfig.get_refiner_config(rconfig.DEFAULT_REFINER))
