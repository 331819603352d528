"""The fields of :class:`~efficientvit.train.config.TrainConfig` described for front ends such as the command
line: each field's name, type, default, help (its docstring in the class body) and validation rule.

The dataclass stays the one home of all of these; this module only reads them (the docstrings from the class
source, with :mod:`ast`), so an option cannot drift from the field it sets."""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import operator
import re
import textwrap
import types
import typing
from dataclasses import MISSING, dataclass
from typing import Any, Literal

from efficientvit.train.config import FIELD_RULES, Rule, TrainConfig

__all__ = ["ConfigField", "field_docs", "train_field", "train_fields"]


@dataclass(frozen=True)
class ConfigField:
    """One :class:`TrainConfig` field as a front end needs it."""

    name: str
    type: Any
    """The resolved annotation, e.g. ``int``, ``float | None``, ``Literal["cls", "seg", "sr"]``."""
    default: Any
    """The dataclass default; ``dataclasses.MISSING`` when the field is required."""
    doc: str
    """The field's docstring on one line (empty if it has none)."""
    rule: Rule | None
    """The values it accepts (:data:`~efficientvit.train.config.FIELD_RULES`); ``None``: any of its type."""

    @property
    def required(self) -> bool:
        return self.default is MISSING

    @property
    def optional(self) -> bool:
        """``None`` is a value of the field (the default of the task or model)."""
        return type(None) in typing.get_args(self.type) and _is_union(self.type)

    @property
    def value_type(self) -> Any:
        """The type without ``None``: ``int`` for ``int | None``."""
        if not _is_union(self.type):
            return self.type
        rest = [arg for arg in typing.get_args(self.type) if arg is not type(None)]
        return functools.reduce(operator.or_, rest)

    @property
    def choices(self) -> tuple[Any, ...] | None:
        """The values of a ``Literal`` field, ``None`` for any other."""
        kind = self.value_type
        return typing.get_args(kind) if typing.get_origin(kind) is Literal else None

    @property
    def meaning(self) -> str | None:
        """The rule in words (``"an integer in [1, 65536]"``), for error messages."""
        return self.rule.meaning if self.rule else None

    @property
    def help(self) -> str:
        """The docstring as an option's help, with the default from the dataclass: ``"peak learning rate of
        AdamW (default 0.001)"``."""
        text = self.doc.replace("``", "`").removesuffix(".")
        first = text.split(" ", 1)[0]
        if text and (
            not first[1:] or first[1:].islower()
        ):  # "Peak" -> "peak"; "RandAugment" and "ADE20K" stay
            text = text[0].lower() + text[1:]
        if self.default is not MISSING and self.default is not None:
            text = f"{text} (default {_words(self.default)})".strip()
        return text


def _is_union(kind: Any) -> bool:
    return typing.get_origin(kind) in (typing.Union, types.UnionType)


def _words(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstrings of a class's annotated fields (the string literal right after each), on one line each;
    empty when the class's source cannot be read."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = next(node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)).body
    docs = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = re.sub(r"\s+", " ", after.value.value).strip()
    return docs


@functools.cache
def train_fields() -> tuple[ConfigField, ...]:
    """Every :class:`TrainConfig` field, in the class's order."""
    hints = typing.get_type_hints(TrainConfig)
    docs = field_docs(TrainConfig)
    return tuple(
        ConfigField(
            name=f.name,
            type=hints[f.name],
            default=f.default,
            doc=docs.get(f.name, ""),
            rule=FIELD_RULES.get(f.name),
        )
        for f in dataclasses.fields(TrainConfig)
    )


def train_field(name: str) -> ConfigField:
    """The :class:`TrainConfig` field ``name``; ``KeyError`` for an unknown name."""
    for item in train_fields():
        if item.name == name:
            return item
    raise KeyError(f"TrainConfig has no field {name!r}")
