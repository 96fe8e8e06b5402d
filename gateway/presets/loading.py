"""Reading presets: YAML files (with the line of every value) and JSON bodies, into ``Preset``s.

Problems are collected, not raised one at a time, so ``gateway presets validate`` can list every
problem of every file at once, each as ``file:line: where: what [rule]``.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import yaml

from gateway.presets.schema import Preset

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: ``auto`` is not a preset but the instruction to pick one.
RESERVED_NAMES = frozenset({"auto"})
SUFFIXES = (".yaml", ".yml")

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (source, line, dotted path) and what."""

    source: str
    line: int
    where: str
    message: str
    rule: str

    def __str__(self) -> str:
        location = f"{self.source}:{self.line}" if self.line else self.source
        where = f" {self.where}:" if self.where else ""
        return f"{location}:{where} {self.message} [{self.rule}]"


@dataclass
class Located:
    """A parsed document and the line (1-based) where each of its values starts."""

    source: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 0)

    def problem(self, path: Path_, message: str, rule: str) -> Problem:
        """A problem at ``path`` of this document."""
        return Problem(self.source, self.line_of(path), dotted(path), message, rule)


def dotted(path: Path_) -> str:
    """``features.subscription_update.products[0]`` for a path."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


#: A preset is a few hundred values at most; aliases could make a small file expand to billions.
MAX_VALUES = 10_000
#: Deeper than any preset nests (and within Python's recursion limit).
MAX_DEPTH = 32


class _ShapeError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class _DuplicateKeyError(_ShapeError):
    pass


class _TooLargeError(_ShapeError):
    pass


def _to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    line = node.start_mark.line + 1
    if len(lines) >= MAX_VALUES:
        msg = f"more than {MAX_VALUES} values (aliases that expand without end?)"
        raise _TooLargeError(msg, line)
    if len(path) > MAX_DEPTH:
        msg = f"nested more than {MAX_DEPTH} levels deep"
        raise _TooLargeError(msg, line)
    lines[path] = line
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(_scalar(key_node))
            if key in mapping:
                msg = f"key {key!r} appears twice"
                raise _DuplicateKeyError(msg, key_node.start_mark.line + 1)
            mapping[key] = _to_python(value_node, (*path, key), lines)
            lines[*path, key] = key_node.start_mark.line + 1  # the key's line, not its value's
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    # YAML's own typing of plain scalars (true, 12, null), as yaml.safe_load would give.
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def parse_yaml(text: str, source: str) -> tuple[Located | None, list[Problem]]:
    """The document in ``text`` with its lines, or the syntax problem."""
    lines: dict[Path_, int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = _to_python(node, (), lines) if node is not None else None
    except (yaml.YAMLError, RecursionError, _ShapeError) as exc:
        return None, [_unreadable(exc, source)]
    if node is None:
        return None, [Problem(source, 1, "", "the file is empty; a preset needs at least features", "schema")]
    return Located(source, data, lines), []


def _unreadable(exc: Exception, source: str) -> Problem:
    """The problem of a file that is not a YAML document of a preset's size."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        return Problem(source, line, "", f"not valid YAML: {exc.problem or exc}", "yaml-syntax")
    if isinstance(exc, yaml.YAMLError):  # e.g. a control character (ReaderError): no line to point at
        return Problem(source, 0, "", f"not valid YAML: {exc}", "yaml-syntax")
    if isinstance(exc, RecursionError):  # the parser itself recurses into each level of nesting
        return Problem(source, 0, "", f"nested more than {MAX_DEPTH} levels deep", "yaml-size")
    if isinstance(exc, _DuplicateKeyError):
        return Problem(source, exc.line, "", str(exc), "duplicate-key")
    line = exc.line if isinstance(exc, _ShapeError) else 0
    return Problem(source, line, "", str(exc), "yaml-size")


_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"unknown field `(?P<key>[^`]+)`")
_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _msgspec_path(message: str) -> tuple[Path_, str]:
    """The path a msgspec validation message points at, and the message without it."""
    path: Path_ = ()
    match = _AT.search(message)
    if match:
        path = tuple(int(index) if index else key for key, index in _PART.findall(match.group("path")))
        message = message[: match.start()]
    unknown = _UNKNOWN.search(message)
    if unknown:
        path = (*path, unknown.group("key"))
    return path, message


def convert(located: Located) -> tuple[Preset | None, list[Problem]]:
    """The typed preset, or the first schema problem (unknown key, wrong type, unknown enum value)."""
    if not isinstance(located.data, dict):
        return None, [located.problem((), "a preset is a mapping of keys (features, ...)", "schema")]
    try:
        return msgspec.convert(located.data, Preset), []
    except msgspec.ValidationError as exc:
        path, message = _msgspec_path(str(exc))
        rule = "known-enum" if message.startswith("Invalid enum value") else "schema"
        return None, [located.problem(path, message, rule)]


def name_problems(name: str, source: str) -> list[Problem]:
    """Problems with a preset's name (the file name, or the name in the URL)."""
    if name in RESERVED_NAMES:
        return [Problem(source, 0, "", f"{name!r} is reserved: it asks the gateway to pick a preset", "name")]
    if not NAME.match(name):
        message = f"{name!r} is not a preset name: 1-63 lower-case letters, digits, '-' or '_'"
        return [Problem(source, 0, "", message, "name")]
    return []


def preset_files(paths: list[Path]) -> list[Path]:
    """The preset files among ``paths`` (folders are searched, not recursively), sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        else:
            files.append(path)
    return sorted(files)
