"""What every crawl path shares: the report, the per-page commit, the progress bar, the User-Agent."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aisec_radar import __version__
from aisec_radar.config import Settings
from aisec_radar.records import Paper

COUNT_KEYS = ("new", "updated", "unchanged", "skipped", "pages", "records")


@dataclass
class CrawlReport:
    """Counts of one crawl (new, updated, unchanged, skipped, pages, records, ...) and the checkpoint after it."""

    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in COUNT_KEYS})
    checkpoint: str | None = None
    source: str = "oai"
    run_id: int | None = None
    missing: list[str] = field(default_factory=list)  # fetch_ids: ids arXiv does not know
    error: str | None = None

    def summary(self) -> str:
        c = self.counts
        extra = "".join(f", {k} {v}" for k, v in sorted(c.items()) if k not in COUNT_KEYS and v)
        text = (f"{c.get('new', 0)} new, {c.get('updated', 0)} updated, {c.get('unchanged', 0)} unchanged, "
                f"{c.get('skipped', 0)} skipped ({c.get('records', 0)} records in {c.get('pages', 0)} pages{extra})")
        if self.checkpoint:
            text += f"; checkpoint {self.checkpoint}"
        if self.missing:
            text += f"; not found on arXiv: {', '.join(self.missing)}"
        return text


def user_agent(settings: Settings) -> str:
    """Names the tool and, when configured, the operator, as arXiv asks of harvesters."""
    contact = f"; mailto:{settings.contact}" if settings.contact else ""
    return f"aisec-radar/{__version__} (AI-security literature radar{contact})"


def commit_page(settings: Settings, papers: Sequence[Paper], checkpoint: tuple[str, str] | None) -> dict[str, int]:
    """Upsert one page and (optionally) advance a checkpoint in the same transaction."""
    from aisec_radar.store import transaction
    from aisec_radar.store.papers import upsert_papers
    from aisec_radar.store.runs import set_checkpoint

    with transaction(settings.db_path, timeout=settings.lock_timeout) as con:
        counts = upsert_papers(con, papers, settings.categories) if papers else None
        if checkpoint is not None:
            set_checkpoint(con, checkpoint[0], checkpoint[1])
    return counts.as_dict() if counts is not None else {}


class Progress:
    """A tqdm bar on stderr (records processed, counts as postfix); silent when disabled."""

    def __init__(self, enabled: bool, unit_desc: str, total: int | None = None):
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="rec", desc=unit_desc, file=sys.stderr, dynamic_ncols=True,
                            leave=True)

    def set_description(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description(text)

    def update(self, n: int, counts: dict[str, int] | None = None) -> None:
        if self.bar is None:
            return
        if counts:
            self.bar.set_postfix(new=counts.get("new", 0), upd=counts.get("updated", 0),
                                 same=counts.get("unchanged", 0), refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
