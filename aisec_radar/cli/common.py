"""Options and helpers shared by the command modules (settings resolution, the --db flag)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from aisec_radar.config import Settings, load_settings


def db_option(f: Callable) -> Callable:
    return click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
                        help="DuckDB file (default: setting db_path, data/aisec-radar.duckdb).")(f)


def get_settings(ctx: click.Context, **overrides: Any) -> Settings:
    """Resolve settings with CLI flags on top; a broken config fails here with exit code 2."""
    root = ctx.find_root()
    config_file = (root.obj or {}).get("config_file")
    return load_settings(config_file=config_file, overrides=overrides)


def echo_json(obj: Any) -> None:
    import json

    click.echo(json.dumps(obj, indent=2, default=str, ensure_ascii=False))
