"""Accessibility smoke checks for the console's pages: labels, headings, and WCAG colour contrast.

``page_problems(html)`` reads a page as served (every form control labelled, one ``h1``, headings that
never skip a level, a language and a title); ``contrast(a, b)`` is WCAG 2's contrast ratio, used on
the stylesheet's colour pairs and, in the browser sweep, on each text's computed colours.
"""

import re
from html.parser import HTMLParser

#: WCAG 2 AA: normal text, and large text (24 px, or 18.66 px bold).
AA_NORMAL, AA_LARGE = 4.5, 3.0
_UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.controls: list[dict[str, str]] = []
        self.label_for: set[str] = set()
        self.headings: list[int] = []
        self.lang = ""
        self.title = ""
        self._in_title = False
        self._label_depth = 0
        self.buttons: list[str] = []
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = attributes.get("lang", "")
        elif tag == "title":
            self._in_title = True
        elif tag == "label":
            self._label_depth += 1
            if attributes.get("for"):
                self.label_for.add(attributes["for"])
        elif tag in {"input", "select", "textarea"}:
            if attributes.get("type", "text") not in _UNLABELLED_TYPES:
                self.controls.append({**attributes, "tag": tag, "wrapped": str(self._label_depth > 0)})
        elif re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "button":
            self._button = [attributes.get("aria-label", "")]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "label":
            self._label_depth -= 1
        elif tag == "button" and self._button is not None:
            self.buttons.append("".join(self._button).strip())
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._button is not None:
            self._button.append(data)


def page_problems(html: str) -> list[str]:
    """What a page misses: labels, one h1, ordered headings, named buttons, language, title."""
    parsed = _Page()
    parsed.feed(html)
    problems = []
    for control in parsed.controls:
        named = control.get("aria-label") or control.get("aria-labelledby") or control["wrapped"] == "True"
        if not named and control.get("id", "") not in parsed.label_for:
            problems.append(f"<{control['tag']} name={control.get('name', '')!r}> has no label")
    if parsed.headings.count(1) != 1:
        problems.append(f"{parsed.headings.count(1)} h1 elements (one expected)")
    if parsed.headings and parsed.headings[0] != 1:
        problems.append(f"the first heading is an h{parsed.headings[0]}, not the h1")
    problems += [
        f"h{after} follows h{before}: a level is skipped"
        for before, after in zip(parsed.headings, parsed.headings[1:], strict=False)
        if after > before + 1
    ]
    problems += ["a button without a name" for name in parsed.buttons if not name]
    if not parsed.lang:
        problems.append("no lang on <html>")
    if not parsed.title.strip():
        problems.append("no <title>")
    return problems


def parse_color(value: str) -> tuple[float, float, float, float]:
    """``#rgb``, ``#rrggbb``, ``rgb(r, g, b)`` or ``rgba(r, g, b, a)`` as (r, g, b, alpha)."""
    value = value.strip().lower()
    if value.startswith("#"):
        digits = value[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), 1.0
    numbers = [float(n) for n in re.findall(r"[\d.]+", value)]
    return numbers[0], numbers[1], numbers[2], numbers[3] if len(numbers) > 3 else 1.0


def _luminance(color: tuple[float, float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b, _ = color
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two opaque colours (1 to 21)."""
    lighter, darker = sorted((_luminance(parse_color(foreground)), _luminance(parse_color(background))))[::-1]
    return (lighter + 0.05) / (darker + 0.05)


def stylesheet_pairs(css: str) -> list[tuple[str, str, str]]:
    """``(selector, text colour, background)`` for each rule of a stylesheet that sets a text colour.

    Custom properties are resolved from ``:root``. A rule without a background of its own is paired
    with the background of the container its selector starts from (``.top a`` with ``.top``), else
    with the page's (``body``).
    """
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    rules = re.findall(r"([^{}@]+)\{([^{}]*)\}", css)
    variables = dict(re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", {s.strip(): b for s, b in rules}[":root"]))

    def value(body: str, *names: str) -> str:
        for name in names:
            found = re.search(rf"(?:^|[;\s]){name}\s*:\s*([^;]+)", body)
            if found:
                raw = found.group(1).strip()
                return variables.get(raw[4:-1].strip(), raw) if raw.startswith("var(") else raw
        return ""

    backgrounds = {
        selector.strip(): value(body, "background-color", "background")
        for group, body in rules
        for selector in group.split(",")
    }
    page = backgrounds.get("body", "#ffffff")
    pairs = []
    for group, body in rules:
        color = value(body, "color")
        if not color or color in {"inherit", "currentcolor"}:
            continue
        for selector in (s.strip() for s in group.split(",")):
            own = backgrounds.get(selector, "")
            container = backgrounds.get(selector.split()[0], "") if " " in selector else ""
            pairs.append((selector, color, own or container or page))
    return pairs
