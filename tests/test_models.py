"""models.maker: objects made quickly are the objects their class makes."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest

from linkaudit.models import Finding, Link, LinkKind, Severity, Span, maker


@pytest.mark.parametrize(("cls", "args", "kwargs"), [
    (Link, (LinkKind.INLINE, "https://a.example/", Span(3, 22), 1, 4), {"text": "a"}),
    (Finding, ("tracking", Severity.WARNING, Path("n.md"), 2, 5, "m"),
     {"url": "https://a.example/?utm_source=x", "removed_params": ("utm_source",)}),
])
def test_made_quickly_is_made_by_the_class(cls: Any, args: tuple[Any, ...],
                                           kwargs: dict[str, Any]) -> None:
    """Equal, same hash, type and repr, defaults filled in, frozen, copied and pickled alike
    (a slotted class and one with a ``__dict__``)."""
    made, expected = maker(cls)(*args, **kwargs), cls(*args, **kwargs)
    assert type(made) is cls
    assert made == expected and hash(made) == hash(expected)
    assert repr(made) == repr(expected)
    assert pickle.loads(pickle.dumps(made)) == expected
    assert copy.copy(made) == expected
    field = dataclasses.fields(cls)[0].name
    assert dataclasses.replace(made, **{field: getattr(expected, field)}) == expected
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, field, None)


def test_a_class_with_post_init_is_refused() -> None:
    """Its generated twin would skip the check a ``__post_init__`` makes: refused."""
    @dataclasses.dataclass(frozen=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("negative")

    with pytest.raises(TypeError, match="__post_init__"):
        maker(Checked)
