"""The error tree drawn in ``supportbus_runtime.errors`` is the code's tree: every class drawn
exists, sits where it is drawn with exactly the bases drawn, and every error class of every
installed supportbus package is drawn. A new class, base or package is drawn or this fails."""

from __future__ import annotations

import builtins
import importlib
import pkgutil
import re
from dataclasses import dataclass
from functools import cache

import pytest

import supportbus_runtime.errors
from supportbus_runtime.errors import SupportbusError

# "│   ├── Name  +Also +Other  a note": the depth is the width of what precedes the name.
_LINE = re.compile(r"^(?P<lead>(?:[│ ]   )*(?:[├└]── )?)(?P<name>[A-Za-z_]\w*)(?P<rest>.*)$")
_ALSO = re.compile(r"\s+\+(\w+)")


@dataclass(frozen=True)
class Drawn:
    name: str
    parent: str | None  # None for the root
    also: tuple[str, ...]  # the "+Name" marks: further bases


def drawn_tree(docstring: str) -> list[Drawn]:
    """The tree after the line ending ``::`` (an indented literal block), one entry a line."""
    lines = docstring.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith("::")) + 1
    block = [line for line in lines[start:] if line.strip()]
    indent = len(block[0]) - len(block[0].lstrip())
    drawn: list[Drawn] = []
    stack: list[str] = []  # the names on the path to the current line, by depth
    for line in block:
        if len(line) - len(line.lstrip()) < indent:
            break  # the literal block ended
        match = _LINE.match(line[indent:])
        assert match, f"not a line of the tree: {line!r}"
        depth = len(match["lead"]) // 4
        assert depth <= len(stack), f"drawn deeper than its parent: {line!r}"
        del stack[depth:]
        also = ()
        rest = match["rest"]
        while marked := _ALSO.match(rest):
            also += (marked[1],)
            rest = rest[marked.end() :]
        drawn.append(Drawn(match["name"], stack[-1] if stack else None, also))
        stack.append(match["name"])
    return drawn


def _supportbus_packages() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules() if m.ispkg and m.name.startswith("supportbus_")
    )


@cache
def error_classes() -> dict[str, type[BaseException]]:
    """Every SupportbusError subclass defined in an installed supportbus package, by name
    (every module imported first, so none is missed for not having been imported yet)."""
    packages = _supportbus_packages()
    for name in packages:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not module.name.endswith(".__main__"):  # a __main__ would run its program
                importlib.import_module(module.name)
    found: dict[str, type[BaseException]] = {}
    todo: list[type[BaseException]] = [SupportbusError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] not in packages:
            continue  # e.g. a test's own subclass
        other = found.setdefault(cls.__name__, cls)
        assert other is cls, (
            f"two error classes named {cls.__name__}: {other.__module__} and {cls.__module__}; "
            "one class per name, re-exported where it used to live"
        )
    return found


def _resolve(name: str) -> type[BaseException]:
    classes = error_classes()
    if name in classes:
        return classes[name]
    builtin = getattr(builtins, name, None)  # a mixin such as ValueError
    undefined = f"{name} is drawn but no supportbus package defines it"
    assert isinstance(builtin, type), undefined
    assert issubclass(builtin, BaseException), undefined
    return builtin


TREE = drawn_tree(supportbus_runtime.errors.__doc__ or "")


def test_the_tree_is_drawn_from_supportbus_error_with_each_class_once() -> None:
    assert TREE[0] == Drawn("SupportbusError", None, ())
    assert [d.parent for d in TREE[1:]].count(None) == 0
    names = [d.name for d in TREE]
    assert len(names) == len(set(names)), "a class is drawn twice"


@pytest.mark.parametrize("drawn", TREE[1:], ids=lambda d: d.name)
def test_each_drawn_class_has_exactly_the_bases_it_is_drawn_with(drawn: Drawn) -> None:
    cls = _resolve(drawn.name)
    assert drawn.parent is not None
    drawn_bases = {_resolve(drawn.parent), *map(_resolve, drawn.also)}
    assert set(cls.__bases__) == drawn_bases, (
        f"{drawn.name} derives from {[b.__name__ for b in cls.__bases__]}, drawn under "
        f"{drawn.parent} with {['+' + a for a in drawn.also]}"
    )


def test_every_error_class_of_the_installed_packages_is_drawn() -> None:
    undrawn = set(error_classes()) - {d.name for d in TREE}
    assert not undrawn, f"draw these in supportbus_runtime.errors' docstring: {sorted(undrawn)}"


def test_the_drawing_parser_reads_depth_and_marks() -> None:
    tree = drawn_tree(
        "Title::\n\n    Root\n    ├── A  +M  note\n    │   └── B\n    └── C\n\nafter\n"
    )
    assert tree == [
        Drawn("Root", None, ()),
        Drawn("A", "Root", ("M",)),
        Drawn("B", "A", ()),
        Drawn("C", "Root", ()),
    ]
