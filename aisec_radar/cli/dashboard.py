"""Dashboard commands: `dashboard` (serve the Streamlit app) and `curator-secret` (hash a secret)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from aisec_radar.cli.common import db_option, get_settings
from aisec_radar.errors import InputError


def streamlit_command(app: Path, host: str, port: int, config_file: str | None) -> list[str]:
    """The `streamlit run` line: headless, no usage stats, no file watcher, bound to ``host``."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(app),
           "--server.headless", "true", "--server.address", host, "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--server.runOnSave", "false", "--client.toolbarMode", "minimal"]
    if config_file:
        cmd += ["--", f"--config={Path(config_file).resolve()}"]
    return cmd


@click.command("dashboard")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. 127.0.0.1 keeps it on this machine; 0.0.0.0 exposes it to the network.")
@click.option("--port", default=8501, type=int, show_default=True, help="Port to serve on.")
@click.pass_context
def dashboard_cmd(ctx: click.Context, db_path: str | None, host: str, port: int) -> None:
    """Serve the dashboard (Trends, Papers, Review, Taxonomy, Runs) until Ctrl-C.

    Browsing needs no login; the Review page needs the curator secret (see `aisec-radar curator-secret`).
    """
    import aisec_radar.dashboard

    s = get_settings(ctx, db_path=db_path)
    db = Path(s.db_path).resolve()
    if not db.exists():
        click.echo(f"note: {db} does not exist yet; the dashboard will say how to create it", err=True)
    if not s.curator_secret_hash:
        click.echo("note: no curator secret configured: the Review page is read-only "
                   "(see `aisec-radar curator-secret`)", err=True)
    app = Path(aisec_radar.dashboard.__file__).resolve().parent / "app.py"
    config_file = (ctx.find_root().obj or {}).get("config_file")
    env = dict(os.environ)
    env["AISEC_RADAR_DB_PATH"] = str(db)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    click.echo(f"aisec-radar dashboard on http://{host}:{port} (database {db}); Ctrl-C stops it", err=True)
    sys.stderr.flush()
    sys.stdout.flush()
    # Replace this process, so stopping `aisec-radar dashboard` stops the server with it.
    os.execvpe(sys.executable, streamlit_command(app, host, port, config_file), env)


@click.command("curator-secret")
@click.argument("secret", required=False)
@click.option("--generate", is_flag=True, help="Make a random secret and print it once, before its hash.")
def curator_secret_cmd(secret: str | None, generate: bool) -> None:
    """Print the sha256 hash of a curator secret, the value of setting curator_secret_hash.

    Without SECRET it asks for one (hidden, twice). Only the hash goes into the settings:
    `export AISEC_RADAR_CURATOR_SECRET_HASH=<hash>` or `curator_secret_hash = "<hash>"` in aisec-radar.toml.
    """
    from aisec_radar.dashboard.auth import hash_secret, new_secret

    if generate:
        secret = new_secret()
        click.echo(f"secret (give it to your curators; it is not stored anywhere): {secret}", err=True)
    elif secret is None:
        secret = click.prompt("Curator secret", hide_input=True, confirmation_prompt=True, err=True)
    if len(secret) < 8:
        raise InputError("the curator secret needs at least 8 characters")
    click.echo(hash_secret(secret))
    click.echo("put it in the settings: export AISEC_RADAR_CURATOR_SECRET_HASH=<hash above>, or "
               'curator_secret_hash = "<hash above>" in aisec-radar.toml; then restart the dashboard', err=True)
