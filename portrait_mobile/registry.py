"""Named configs by name (timm's `register_model`) and their plain-dict form: the model's configs and
the refiner's share both."""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Generic, Protocol, TypeVar


class _Named(Protocol):
    name: str


T = TypeVar("T", bound=_Named)


class Registry(Generic[T]):
    """Configs by their `name`. A name registered twice is refused, never silently replaced; an unknown
    name raises `error` (the caller's exception type) listing the known ones."""

    def __init__(self, what: str, error: type[Exception] = KeyError) -> None:
        self.what = what
        self.error = error
        self._items: dict[str, T] = {}

    def register(self, item: T) -> T:
        if item.name in self._items:
            raise ValueError(f"{self.what} {item.name!r} is already registered")
        self._items[item.name] = item
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise self.error(f"unknown {self.what} {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._items)


C = TypeVar("C")


def config_from_dict(cls: type[C], d: dict[str, Any], what: str) -> C:
    """A frozen config dataclass from its dict (a checkpoint's, JSON's): lists become tuples, a key
    that is not a field is refused (ValueError naming `what`)."""
    unknown = set(d) - {f.name for f in fields(cls)}  # type: ignore[arg-type]
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
