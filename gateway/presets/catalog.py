"""Which presets a workspace has: the files in ``GATEWAY_PRESETS_DIR``, overridden by its own.

A workspace preset (``PUT /v1/presets/{name}``) replaces the file preset of the same name for that
workspace only. A file that breaks a rule is kept with its problems, so asking for it answers
``preset_invalid`` with what to fix instead of a puzzling ``preset_not_found``.
"""

import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

from gateway.errors import PresetInvalid, PresetNotFound
from gateway.presets.loading import Located, Problem, convert, name_problems, parse_yaml, preset_files
from gateway.presets.rendering import digest
from gateway.presets.rules import check
from gateway.presets.schema import Preset
from gateway.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_PRESET = "default"
AUTO = "auto"


@dataclass(frozen=True)
class NamedPreset:
    """A preset with its name, where it comes from, and the lines of its source (for messages)."""

    name: str
    preset: Preset
    origin: Literal["file", "workspace"]
    located: Located
    #: A hash of the preset as written: a change means the configuration must be synced again.
    digest: str


@dataclass
class Catalog:
    """The presets one workspace can use, and the problems of those it cannot."""

    presets: dict[str, NamedPreset] = field(default_factory=dict)
    problems: dict[str, list[Problem]] = field(default_factory=dict)

    def get(self, name: str) -> NamedPreset:
        """The preset ``name``; ``preset_not_found`` (with a suggestion) or ``preset_invalid``."""
        found = self.presets.get(name)
        if found is not None:
            return found
        if name in self.problems:
            raise invalid(name, self.problems[name])
        names = sorted({*self.presets, *self.problems})
        close = get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else f" Known presets: {', '.join(names) or 'none'}."
        msg = f"No preset named {name!r}.{hint}"
        raise PresetNotFound(msg)

    def names(self) -> list[str]:
        """Every preset name, usable or not, sorted."""
        return sorted({*self.presets, *self.problems})


def invalid(name: str, problems: list[Problem]) -> PresetInvalid:
    """``preset_invalid`` listing every problem (``fields``: where and what)."""
    listed = "; ".join(str(p) for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""  # noqa: PLR2004
    fields = [{"field": p.where or "preset", "message": f"{p.message} [{p.rule}]"} for p in problems]
    return PresetInvalid(f"Preset {name!r} is invalid: {listed}{more}", extra={"fields": fields})


def checked(located: Located) -> tuple[Preset | None, list[Problem]]:
    """The preset in ``located`` if it follows every rule, with the problems otherwise."""
    preset, problems = convert(located)
    if preset is None:
        return None, problems
    problems = check(preset, located)
    return (None if problems else preset), problems


def load_file(path: Path, source: str = "") -> tuple[NamedPreset | None, list[Problem]]:
    """The preset in one file (its name is the file name), or its problems."""
    source = source or str(path)
    problems = name_problems(path.stem, source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [*problems, Problem(source, 0, "", f"cannot be read: {exc}", "file")]
    located, syntax = parse_yaml(text, source)
    if located is None:
        return None, problems + syntax
    preset, found = checked(located)
    problems += found
    if preset is None or problems:
        return None, problems
    return NamedPreset(path.stem, preset, "file", located, digest(preset)), []


def load_files(paths: Iterable[Path]) -> Catalog:
    """The presets in files and folders (a folder's ``*.yaml``/``*.yml``), problems kept per name."""
    catalog = Catalog()
    for path in preset_files(list(paths)):
        named, problems = load_file(path)
        if named is not None:
            catalog.presets[named.name] = named
        else:
            catalog.problems[path.stem] = problems
    return catalog


#: Per folder: its files' names, times and sizes, the catalog read from them, when they were checked.
_folder_cache: dict[Path, tuple[tuple[Any, ...], Catalog, float]] = {}
#: Seconds between two looks at the folder: every workspace's view reload asks for the catalog (with
#: 100 workspaces, 40 times a second), and a listing with a ``stat`` per file is 1 ms.
FOLDER_CHECK_S = 1.0


def load_folder(folder: Path) -> Catalog:
    """The presets of ``GATEWAY_PRESETS_DIR``, read again when a file there changes (seen within 1 s)."""
    folder = folder.resolve()
    cached = _folder_cache.get(folder)
    now = time.monotonic()
    if cached is not None and now - cached[2] < FOLDER_CHECK_S:
        return cached[1]
    try:
        files = preset_files([folder]) if folder.is_dir() else []
        signature = tuple((p.name, os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in files)  # noqa: PTH116
    except OSError:
        signature = ()
    catalog = cached[1] if cached is not None and cached[0] == signature else load_files(files)
    _folder_cache[folder] = (signature, catalog, now)
    return catalog


def parse_body(name: str, body: Mapping[str, Any]) -> tuple[NamedPreset | None, list[Problem]]:
    """A workspace preset from its JSON body, or its problems."""
    source = f"workspace preset {name!r}"
    problems = name_problems(name, source)
    located = Located(source, dict(body))
    preset, found = checked(located)
    problems += found
    if preset is None or problems:
        return None, problems
    return NamedPreset(name, preset, "workspace", located, digest(preset)), []


def report_preset_problems(settings: Settings) -> None:
    """Log (once, at start) every problem of the preset files, so operators see them in the logs."""
    catalog = load_folder(settings.presets_dir)
    for problems in catalog.problems.values():
        for problem in problems:
            logger.warning("preset file problem: %s", problem)
    if DEFAULT_PRESET not in catalog.presets:
        logger.warning(
            "no valid %r preset in %s: requests that name no preset need one",
            DEFAULT_PRESET,
            settings.presets_dir,
        )


def from_body(name: str, body: Mapping[str, Any]) -> NamedPreset:
    """A workspace preset from its JSON body; ``preset_invalid`` naming every problem otherwise."""
    named, problems = parse_body(name, body)
    if named is None:
        raise invalid(name, problems)
    return named


def overlay(files: Catalog, own: Iterable[NamedPreset]) -> Catalog:
    """The file presets with a workspace's own presets replacing those of the same name."""
    catalog = Catalog(dict(files.presets), dict(files.problems))
    for named in own:
        catalog.presets[named.name] = named
        catalog.problems.pop(named.name, None)
    return catalog


def matches(named: NamedPreset, item: Mapping[str, Any]) -> bool:
    """Whether one subscription item (mirror keys) fits the preset's ``match``."""
    match = named.preset.match
    if match is None:
        return False
    return (
        (bool(item.get("price_lookup_key")) and item.get("price_lookup_key") in match.prices_by_lookup_key)
        or (bool(item.get("price_id")) and item.get("price_id") in match.prices)
        or (bool(item.get("product_id")) and item.get("product_id") in match.products)
    )


def choose_preset(presets: Mapping[str, NamedPreset], items: Iterable[Mapping[str, Any]]) -> str:
    """The preset ``preset: auto`` picks for a subscription with these items.

    ``items`` are mappings with the subscription mirror's keys ``price_id``, ``price_lookup_key``
    and ``product_id`` (others are ignored). The first preset in name order whose ``match`` fits
    any item wins; when none does, the answer is ``"default"`` (what ``auto`` falls back to), never "".
    Used for the ``preset`` of mirrored subscriptions and flat events.
    """
    items = list(items)
    for name in sorted(presets):
        if any(matches(presets[name], item) for item in items):
            return name
    return DEFAULT_PRESET
