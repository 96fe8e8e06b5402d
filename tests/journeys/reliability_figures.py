"""The fault scenario's figures, written into docs/reliability.md between its figures markers.

Only the block between the markers is rewritten (the rest of the file is prose others edit), and only
the row of this run's database and size: the SQLite and PostgreSQL runs are separate suites.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "reliability.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
COLUMNS = (
    "database",
    "events",
    "posts",
    "accepted (2xx)",
    "rejected, then re-sent",
    "lost",
    "callbacks",
    "duplicates delivered",
    "kills (serve + worker)",
    "database outages",
    "receiver faults (500 + too slow)",
    "duration",
    "run on",
)
CAPTION = (
    "Written by `tests/journeys/test_no_loss_under_faults.py` when `GATEWAY_WRITE_RELIABILITY=1`; "
    "one row per database and size, from its last run."
)


@dataclass(frozen=True)
class Figures:
    """One run of the scenario."""

    database: str
    #: Distinct Stripe events, and copies posted (repeats included) over how many HTTP requests.
    events: int
    copies: int
    posts: int
    #: Copies answered 2xx; posts rejected (no answer, 5xx); events with a rejected post.
    accepted: int
    rejected_posts: int
    retried_events: int
    lost: int
    #: Flat events times subscribers, each answered 2xx at least once.
    deliveries: int
    duplicates: int
    serve_kills: int
    worker_kills: int
    outages: int
    outage_s: float
    outage_kind: str
    errors: int
    timeouts: int
    duration_s: float

    def row(self) -> tuple[str, ...]:
        """The table cells."""
        return (
            self.database,
            f"{self.events:,}",
            f"{self.copies:,} copies in {self.posts:,} posts",
            f"{self.accepted:,}",
            f"{self.rejected_posts:,} posts of {self.retried_events:,} events",
            f"{self.lost:,}",
            f"{self.deliveries:,}",
            f"{self.duplicates:,}",
            f"{self.serve_kills} + {self.worker_kills}",
            f"{self.outages} x {self.outage_s:g} s ({self.outage_kind})",
            f"{self.errors + self.timeouts:,} ({self.errors:,} + {self.timeouts:,})",
            f"{self.duration_s:,.0f} s",
            datetime.now(UTC).strftime("%Y-%m-%d"),
        )


def record(figures: Figures, doc: Path = DOC) -> None:
    """Put ``figures`` in the block of ``doc``, replacing the row of the same database and size."""
    text = doc.read_text(encoding="utf-8")
    head, start, rest = text.partition(START)
    block, end, tail = rest.partition(END)
    if not start or not end:
        msg = f"{doc} has no {START} ... {END} block"
        raise ValueError(msg)
    rows = {cells[:2]: cells for cells in _rows(block)}
    new = figures.row()
    rows[new[:2]] = new
    ordered = sorted(rows.values(), key=lambda cells: (int(cells[1].replace(",", "")), cells[0]))
    table = [_line(COLUMNS), _line(tuple("---" for _ in COLUMNS)), *map(_line, ordered)]
    doc.write_text(head + start + "\n" + CAPTION + "\n\n" + "\n".join(table) + "\n" + end + tail, "utf-8")


def _rows(block: str) -> list[tuple[str, ...]]:
    """The data rows of the table in ``block`` (none when it has no table yet)."""
    lines = [line for line in block.splitlines() if line.startswith("|")]
    cells = [tuple(cell.strip() for cell in line.strip("|").split("|")) for line in lines[2:]]
    return [row for row in cells if len(row) == len(COLUMNS) and re.fullmatch(r"[\d,]+", row[1])]


def _line(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"
