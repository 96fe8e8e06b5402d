"""The documents under docs/ cannot drift from the code: keys, rules, settings, metrics, links."""

import ast
import re
from pathlib import Path

from gateway import metrics, presets
from gateway.presets import reference
from gateway.settings import Settings

DOCS = Path(__file__).parent.parent / "docs"


def test_presets_reference_lists_every_key() -> None:
    """docs/presets.md holds the key table generated from the schema (python -m gateway.presets.reference)."""
    assert reference.render() in (DOCS / "presets.md").read_text(encoding="utf-8")


_RULE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _rules_in_code() -> set[str]:
    """Every rule name the preset checks can report (the last argument of each problem they make)."""
    rules: set[str] = set()
    for module in (Path(presets.__file__).parent).glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            named = isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
            if named in {"report", "problem", "Problem"} and node.args:  # type: ignore[union-attr]
                candidates = [node.args[-1]]  # type: ignore[union-attr]
            elif (
                isinstance(node, ast.Return)
                and isinstance(node.value, ast.Tuple)
                and len(node.value.elts) == 2
            ):
                candidates = [node.value.elts[1]]
            elif isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["rule"]:
                candidates = (
                    [node.value.body, node.value.orelse]
                    if isinstance(node.value, ast.IfExp)
                    else [node.value]
                )
            else:
                continue
            rules |= {
                c.value for c in candidates if isinstance(c, ast.Constant) and _RULE.match(str(c.value))
            }
    return rules


def test_every_preset_rule_is_documented() -> None:
    """Each rule name the code reports has its row in docs/presets.md's rule tables, and no row is stale."""
    text = (DOCS / "presets.md").read_text(encoding="utf-8")
    rules_section = text[text.index("## Rules") : text.index("## Shipped presets")]
    documented = {
        name
        for row in re.findall(r"^\| (`[^|]+)\|", rules_section, re.MULTILINE)
        for name in re.findall(r"`([^`]+)`", row)
    }
    in_code = _rules_in_code() - {"file"}  # an unreadable file: no rule to look up
    assert in_code <= documented, sorted(in_code - documented)
    assert documented - {"rule"} <= in_code, sorted(documented - in_code)


def test_every_setting_and_metric_is_in_the_operations_guide() -> None:
    """docs/operations.md lists each environment variable the settings read and each metric."""
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        if name == "database_schema" or field.validation_alias is None:
            assert f"`GATEWAY_{name.upper()}`" in text, name
        else:
            assert f"`{name.upper()}`" in text, name
    for family in metrics.REGISTRY.collect():
        shown = f"{family.name}_total" if family.type == "counter" else family.name
        assert f"`{shown}`" in text, shown


def test_readme_links_every_guide() -> None:
    """README.md links each document under docs/."""
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    for doc in sorted(DOCS.glob("*.md")):
        assert f"](docs/{doc.name})" in readme, doc.name
