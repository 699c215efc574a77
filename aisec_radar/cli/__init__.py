"""The `aisec-radar` command: a thin shell over the core.

Subcommands live in their own modules and are imported only when called, so `aisec-radar --help`
never pays for torch, scrapy or streamlit. To add a command, add one line to COMMANDS.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click

from aisec_radar import __version__
from aisec_radar.errors import AisecRadarError

# name -> "module:attribute" (a click.Command or click.Group)
COMMANDS: dict[str, str] = {
    "init": "aisec_radar.cli.core:init_cmd",
    "stats": "aisec_radar.cli.core:stats_cmd",
    "label": "aisec_radar.cli.core:label_cmd",
    "labels": "aisec_radar.cli.core:labels_group",
    "config": "aisec_radar.cli.core:config_cmd",
    "crawl": "aisec_radar.cli.crawl:crawl_cmd",
    "fetch": "aisec_radar.cli.crawl:fetch_cmd",
    "serve-arxiv": "aisec_radar.cli.crawl:serve_arxiv_cmd",
    "dashboard": "aisec_radar.cli.dashboard:dashboard_cmd",
    "curator-secret": "aisec_radar.cli.dashboard:curator_secret_cmd",
    "classify": "aisec_radar.cli.classify:classify_cmd",
    "train": "aisec_radar.cli.classify:train_cmd",
    "eval": "aisec_radar.cli.classify:eval_cmd",
    "finetune-encoder": "aisec_radar.cli.classify:finetune_encoder_cmd",
    "nightly": "aisec_radar.cli.nightly:nightly_cmd",
    "demo": "aisec_radar.cli.nightly:demo_cmd",
    "export": "aisec_radar.cli.export:export_group",
    "db": "aisec_radar.cli.db:db_group",
    "survey": "aisec_radar.cli.survey:survey_group",
    "topics": "aisec_radar.cli.topics:topics_group",
    "taxonomy": "aisec_radar.cli.topics:taxonomy_group",
}

# One-line help per command, shown by `--help` without importing the command's module.
SHORT_HELP: dict[str, str] = {
    "init": "Create or upgrade the database.",
    "stats": "Counts of papers, predictions, labels, per type and axis, and the last run.",
    "label": "Record a curator label for a paper.",
    "labels": "Export or import curator labels as JSON Lines.",
    "config": "Show the resolved settings and where each can be set.",
    "crawl": "Harvest new and revised cs.CR/cs.LG papers (OAI-PMH, or API backfill) into the store.",
    "fetch": "Add papers by arXiv id through the export API.",
    "serve-arxiv": "Serve a local arXiv stand-in (OAI-PMH + export API) from a JSONL corpus.",
    "dashboard": "Serve the Streamlit dashboard (127.0.0.1:8501 by default).",
    "curator-secret": "Print the hash of a curator secret for setting curator_secret_hash.",
    "classify": "Classify new and stale papers (relevance, type, role, modality).",
    "train": "Retrain the classifier from all labels; promote it if not worse.",
    "eval": "Score the classifier on a labelled JSON Lines file.",
    "finetune-encoder": "Fine-tune the encoder's top layers on all labels; write the delta file.",
    "nightly": "Scheduled job: crawl, classify, retrain when due, write the digest (exit codes in --help).",
    "demo": "Offline demo: local arXiv stand-in on the corpus, nightly run, then the dashboard.",
    "export": "BibTeX, CSV, Parquet, Markdown digest, Atom feeds, survey delta.",
    "db": "Back up or restore the whole database.",
    "survey": "Import the survey's .bib to know which papers it already cites.",
    "topics": "Emerging-topic candidates: discover, list, dismiss, merge into a type, promote to a new type.",
    "taxonomy": "Taxonomy versions: show, diff, new-version from a change list, migrate-labels.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands from SHORT_HELP so top-level help imports no command module."""
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AisecRadarError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aisec-radar")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Settings file (default: ./aisec-radar.toml if present).")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.pass_context
def app(ctx: click.Context, config_file: str | None, verbose: int) -> None:
    """aisec-radar: crawl arXiv, classify AI-security papers into the survey's threat taxonomy,
    keep a curated DuckDB store and a dashboard current."""
    ctx.ensure_object(dict)
    ctx.obj["config_file"] = config_file
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    app(obj={})
