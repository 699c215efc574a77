"""`aisec-radar topics ...` (emerging-topic candidates) and `aisec-radar taxonomy ...` (versions)."""

from __future__ import annotations

import getpass
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from aisec_radar.cli.common import db_option, echo_json, get_settings
from aisec_radar.errors import InputError


def _date(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{flag} '{value}' is not a date; use YYYY-MM-DD") from exc


def _db(ctx: click.Context, db_path: str | None) -> str | None:
    """--db given to the subcommand, else to `topics` itself (`aisec-radar topics --db X discover`)."""
    parent = ctx.parent
    return db_path or (parent.params.get("db_path") if parent is not None else None)


def _curator(curator: str | None) -> str:
    return curator or getpass.getuser()


def _default_yaml_path(db_path: str, version: str) -> Path:
    return Path(db_path).resolve().parent / "taxonomy" / f"ai_security-{version}.yaml"


def _fmt_growth(g: float | None) -> str:
    return "n/a" if g is None else f"{g:+.0%}"


@click.group("topics", invoke_without_command=True)
@click.option("--since", default=None, help="Only candidates seen in a discovery run on or after this date.")
@click.option("--all", "show_all", is_flag=True, help="Include dismissed, merged and promoted candidates.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of text.")
@db_option
@click.pass_context
def topics_group(ctx: click.Context, since: str | None, show_all: bool, as_json: bool, db_path: str | None) -> None:
    """Emerging-topic candidates: AI-security papers no type explains, clustered and followed over runs.

    Without a subcommand, lists the open candidates of the latest discovery run, biggest first
    (with --since: the open candidates seen in any run since that date).
    """
    if ctx.invoked_subcommand is not None:
        return
    from aisec_radar.store import connect
    from aisec_radar.store import topics as st

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    with connect(s.db_path, read_only=True, timeout=s.lock_timeout) as con:
        latest = st.latest_topic_run(con)
        rows = st.candidate_rows(con, since=_date(since, "--since"), statuses=None if show_all else ("open",))
    if not show_all and since is None:
        rows = [r for r in rows if r["last_run_id"] == latest]
    if as_json:
        echo_json(rows)
        return
    if latest is None:
        click.echo("no discovery run yet; run `aisec-radar topics discover`")
        return
    if not rows:
        click.echo("no open candidates in the latest discovery run")
        return
    for r in rows:
        status = "" if r["status"] == "open" else f" [{r['status']}{' -> ' + r['target'] if r['target'] else ''}]"
        click.echo(f"{r['topic_id']}{status}  size {r['size']}  growth {_fmt_growth(r['growth'])}  "
                   f"runs {r['runs_seen']}  nearest {r['nearest_type']} ({(r['nearest_sim'] or 0):.2f})")
        click.echo(f"    {', '.join(r['key_phrases'][:6])}")
        click.echo(f"    e.g. {', '.join(r['representative'][:3])}")


@topics_group.command("discover")
@click.option("--until", default=None, help="End of the window (default: the newest paper in the store).")
@click.option("--window-months", type=int, default=6, show_default=True, help="Months in the sliding window.")
@click.option("--min-cluster-size", type=int, default=8, show_default=True, help="Smallest candidate.")
@click.option("--fit-threshold", type=float, default=0.5, show_default=True,
              help="In-taxonomy papers whose best type score is below this count as unexplained.")
@click.option("--json", "as_json", is_flag=True)
@db_option
@click.pass_context
def discover_cmd(ctx: click.Context, until: str | None, window_months: int, min_cluster_size: int,
                 fit_threshold: float, as_json: bool, db_path: str | None) -> None:
    """Run discovery once (the nightly job calls the same function); encodes only uncached papers."""
    from aisec_radar.taxonomy import load_taxonomy
    from aisec_radar.topics import DiscoveryParams, discover_topics

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    if window_months < 1 or min_cluster_size < 2:
        raise InputError("--window-months must be >= 1 and --min-cluster-size >= 2")
    params = DiscoveryParams(window_months=window_months, min_cluster_size=min_cluster_size,
                             fit_threshold=fit_threshold)
    res = discover_topics(s, load_taxonomy(s.taxonomy_path or None), until=_date(until, "--until"), params=params,
                          progress=sys.stderr.isatty())
    out = {"run_id": res.run_id, "window": [str(res.window_start), str(res.window_end)], **res.counts(),
           "seconds": res.seconds,
           "candidates": [{"topic_id": c.topic_id, "size": c.size, "matched_by": c.matched_by,
                           "growth": c.growth, "nearest_type": c.nearest_type, "key_phrases": c.key_phrases}
                          for c in res.candidates]}
    if as_json:
        echo_json(out)
        return
    click.echo(f"discovery run {res.run_id}: window {res.window_start}..{res.window_end}, pool {res.pool} papers, "
               f"encoded {res.encoded}, {len(res.candidates)} candidate(s) ({res.new} new, {res.matched} followed), "
               f"{res.seconds.get('total', 0):.1f}s")
    for c in sorted(res.candidates, key=lambda c: -c.size):
        click.echo(f"  {c.topic_id} size {c.size} ({c.matched_by})  {', '.join(c.key_phrases[:5])}")


@topics_group.command("show")
@click.argument("topic_id")
@click.option("--json", "as_json", is_flag=True)
@db_option
@click.pass_context
def show_cmd(ctx: click.Context, topic_id: str, as_json: bool, db_path: str | None) -> None:
    """One candidate: its history over runs, curator actions and current members."""
    from aisec_radar.store import connect
    from aisec_radar.store import topics as st
    from aisec_radar.topics.actions import UnknownTopic

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    with connect(s.db_path, read_only=True, timeout=s.lock_timeout) as con:
        cand = st.get_candidate(con, topic_id)
        if cand is None:
            raise UnknownTopic(f"no topic candidate '{topic_id}'")
        snaps = st.snapshots(con, topic_id=topic_id)
        acts = st.actions(con, topic_id)
        mem = st.members(con, topic_id)
    cand.pop("centroid", None)
    obj: dict[str, Any] = {"candidate": cand, "snapshots": snaps, "actions": acts, "members": mem}
    if as_json:
        echo_json(obj)
        return
    click.echo(f"{topic_id}: {cand['status']}{' -> ' + cand['target'] if cand['target'] else ''}, "
               f"size {cand['size']}, first seen {cand['first_seen']:%Y-%m-%d}, last seen {cand['last_seen']:%Y-%m-%d}")
    click.echo(f"  phrases: {', '.join(cand['key_phrases'])}")
    for sn in snaps:
        months = " ".join(f"{k[2:]}:{v}" for k, v in sorted(sn["monthly_counts"].items()))
        click.echo(f"  run {sn['run_id']}: size {sn['size']} growth {_fmt_growth(sn['growth'])} "
                   f"nearest {sn['nearest_type']} ({(sn['nearest_sim'] or 0):.2f}) [{months}]")
    for a in acts:
        click.echo(f"  {a['created_at']:%Y-%m-%d %H:%M} {a['curator']}: {a['action']} {a['target'] or ''} "
                   f"{'(' + str(a['queued']) + ' queued)' if a['queued'] else ''}")
    for m in mem[:20]:
        click.echo(f"  {m['arxiv_id']}  {m['score']:.2f}  {m['title']}")
    if len(mem) > 20:
        click.echo(f"  ... {len(mem) - 20} more (--json for all)")


def _action_options(f: Any) -> Any:
    f = click.option("--note", default=None, help="Why; kept with the action.")(f)
    f = click.option("--curator", default=None, help="Your name (default: $USER).")(f)
    return db_option(f)


@topics_group.command("dismiss")
@click.argument("topic_id")
@_action_options
@click.pass_context
def dismiss_cmd(ctx: click.Context, topic_id: str, curator: str | None, note: str | None, db_path: str | None) -> None:
    """Not a new type: hide the candidate (later runs still recognise it and keep it dismissed)."""
    from aisec_radar.topics import dismiss

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    dismiss(s.db_path, topic_id, _curator(curator), note=note, timeout=s.lock_timeout)
    click.echo(f"{topic_id} dismissed")


@topics_group.command("reopen")
@click.argument("topic_id")
@_action_options
@click.pass_context
def reopen_cmd(ctx: click.Context, topic_id: str, curator: str | None, note: str | None, db_path: str | None) -> None:
    """Undo a dismiss (or mark a merged/promoted candidate open again)."""
    from aisec_radar.topics import reopen

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    reopen(s.db_path, topic_id, _curator(curator), note=note, timeout=s.lock_timeout)
    click.echo(f"{topic_id} reopened")


@topics_group.command("merge")
@click.argument("topic_id")
@click.option("--into", "into", required=True, help="Existing type id the candidate's papers belong to.")
@_action_options
@click.pass_context
def merge_cmd(ctx: click.Context, topic_id: str, into: str, curator: str | None, note: str | None,
              db_path: str | None) -> None:
    """The candidate is an existing type: its papers enter the review queue with that type suggested."""
    from aisec_radar.taxonomy import load_taxonomy
    from aisec_radar.topics import merge

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    r = merge(s.db_path, topic_id, into, load_taxonomy(s.taxonomy_path or None), _curator(curator), note=note,
              timeout=s.lock_timeout)
    click.echo(f"{topic_id} merged into {into}: {r.queued} paper(s) queued for review")


@topics_group.command("promote")
@click.argument("topic_id")
@click.option("--name", "new_type", required=True, help="Id of the new type (lowercase_with_underscores).")
@click.option("--title", default=None, help="Display name of the new type.")
@click.option("--definition", default=None, help="Definition (default: built from the key phrases; edit later).")
@click.option("--axis", default=None, help="Axis id for every axis map (default: the nearest type's axes).")
@click.option("--version", "version", default=None, help="New taxonomy version id (default: the next one).")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the new version's YAML (default: <db folder>/taxonomy/ai_security-<v>.yaml).")
@_action_options
@click.pass_context
def promote_cmd(ctx: click.Context, topic_id: str, new_type: str, title: str | None, definition: str | None,
                axis: str | None, version: str | None, out: str | None, curator: str | None, note: str | None,
                db_path: str | None) -> None:
    """Make the candidate a new type in a new taxonomy version; its papers go to review with that type."""
    from aisec_radar.taxonomy.versions import next_version
    from aisec_radar.topics import promote

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    from aisec_radar.taxonomy import load_taxonomy

    target = version or next_version(load_taxonomy(s.taxonomy_path or None).version)
    out_path = Path(out) if out else _default_yaml_path(s.db_path, target)
    r = promote(s.db_path, topic_id, new_type, s.taxonomy_path or None, _curator(curator), name=title,
                definition=definition, axis=axis, version=target, out_path=out_path, note=note,
                timeout=s.lock_timeout)
    click.echo(f"{topic_id} promoted to new type {new_type} in taxonomy {r.taxonomy_version}: {r.queued} paper(s) "
               f"queued for review, {r.migrated_labels} label(s) carried to {r.taxonomy_version}")
    click.echo(f"wrote {r.yaml_path}; use it with `taxonomy_path = \"{r.yaml_path}\"` in aisec-radar.toml, then "
               "`aisec-radar train` once the queued papers are labelled")


# --- taxonomy versions ----------------------------------------------------------------------------

@click.group("taxonomy")
def taxonomy_group() -> None:
    """Taxonomy versions: every change (add, rename, split, merge, axis) is a new version with an id mapping."""


@taxonomy_group.command("show")
@click.option("--json", "as_json", is_flag=True)
@db_option
@click.pass_context
def tax_show(ctx: click.Context, as_json: bool, db_path: str | None) -> None:
    """Known versions (the configured file's is registered first) with their label and prediction counts."""
    from aisec_radar.store import connect
    from aisec_radar.store import taxonomy_versions as tv
    from aisec_radar.taxonomy.migrate import register_file

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    current = register_file(s.db_path, s.taxonomy_path or None, timeout=s.lock_timeout)
    with connect(s.db_path, read_only=True, timeout=s.lock_timeout) as con:
        rows = tv.list_versions(con)
    for r in rows:
        r["in_use"] = r["version"] == current
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        mark = "*" if r["in_use"] else " "
        created = r["created_at"].strftime("%Y-%m-%d") if isinstance(r["created_at"], datetime) else r["created_at"]
        click.echo(f"{mark} {r['version']:<10} parent {r['parent_version'] or '-':<10} {created}  "
                   f"labels {r['labels']}  predictions {r['predictions']}  {r['note'] or ''}")
    click.echo("* = the version of the configured taxonomy file (setting taxonomy_path)")


@taxonomy_group.command("diff")
@click.argument("from_version")
@click.argument("to_version")
@click.option("--json", "as_json", is_flag=True)
@db_option
@click.pass_context
def tax_diff(ctx: click.Context, from_version: str, to_version: str, as_json: bool, db_path: str | None) -> None:
    """What changed between two versions on one line of descent (renames, splits, merges, additions)."""
    from aisec_radar.store import connect
    from aisec_radar.store import taxonomy_versions as tv
    from aisec_radar.taxonomy.migrate import register_file
    from aisec_radar.taxonomy.versions import diff, version_path

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    register_file(s.db_path, s.taxonomy_path or None, timeout=s.lock_timeout)
    with connect(s.db_path, read_only=True, timeout=s.lock_timeout) as con:
        path, direction = version_path(tv.parents(con), from_version, to_version)
        steps = [(a, b, tv.get_mapping(con, a, b) if direction == "forward" else tv.get_mapping(con, b, a))
                 for a, b in zip(path, path[1:], strict=False)]
    out = [{"from": a, "to": b, **{k: v for k, v in diff(m).items() if k != "same"}} for a, b, m in steps]
    if as_json:
        echo_json(out)
        return
    if direction == "backward":
        click.echo(f"(read backwards: {to_version} is older than {from_version})")
    for step in out:
        click.echo(f"{step['from']} -> {step['to']}:" if direction == "forward" else f"{step['to']} -> {step['from']}:")
        for old, new in step["rename"]:
            click.echo(f"  rename {old} -> {new}")
        for old, news in step["split"]:
            click.echo(f"  split  {old} -> {', '.join(news)}")
        for new, olds in step["merge"]:
            click.echo(f"  merge  {', '.join(olds)} -> {new}")
        for new in step["add"]:
            click.echo(f"  add    {new}")


@taxonomy_group.command("new-version")
@click.argument("changes_file", type=click.Path(dir_okay=False))
@click.option("--version", "version", default=None, help="Version id (default: the file's 'version' or the next).")
@click.option("--base", default=None, help="Version to derive from (default: the configured file's).")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the YAML (default: <db folder>/taxonomy/ai_security-<v>.yaml).")
@click.option("--curator", default=None)
@db_option
@click.pass_context
def tax_new_version(ctx: click.Context, changes_file: str, version: str | None, base: str | None, out: str | None,
                    curator: str | None, db_path: str | None) -> None:
    """Create a version from a change list (add/rename/split/merge/axis; see docs/curator-guide.md)."""
    from aisec_radar.taxonomy.migrate import create_version, read_changes
    from aisec_radar.taxonomy.versions import diff

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    spec = read_changes(changes_file)
    v = version or (str(spec["version"]) if spec.get("version") else None)
    plan, _ = create_version(s.db_path, spec["changes"], base_version=base or spec.get("base"),
                             taxonomy_path=s.taxonomy_path or None, version=v, note=spec.get("note"),
                             created_by=_curator(curator), timeout=s.lock_timeout)
    out_path = Path(out) if out else _default_yaml_path(s.db_path, plan.version)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(plan.yaml_text(), encoding="utf-8")
    tmp.replace(out_path)
    d = diff(plan.mapping)
    click.echo(f"taxonomy {plan.version} (from {plan.parent}) stored and written to {out_path}: "
               f"{len(d['rename'])} rename(s), {len(d['split'])} split(s), {len(d['merge'])} merge(s), "
               f"{len(d['add'])} addition(s)")
    click.echo(f"next: `aisec-radar taxonomy migrate-labels --to {plan.version} --dry-run`, then without --dry-run")


@taxonomy_group.command("migrate-labels")
@click.option("--to", "to_version", required=True, help="Version to carry the labels in force to.")
@click.option("--from", "from_version", default=None,
              help="Version of labels that carry none (default: the root of the version history).")
@click.option("--dry-run", is_flag=True, help="Count what would happen; write nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--curator", default=None)
@db_option
@click.pass_context
def tax_migrate(ctx: click.Context, to_version: str, from_version: str | None, dry_run: bool, as_json: bool,
                curator: str | None, db_path: str | None) -> None:
    """Carry labels through the mapping: unique answers migrate, split ones go to the review queue."""
    from aisec_radar.taxonomy.migrate import migrate_labels, plan_migration, register_file

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    register_file(s.db_path, s.taxonomy_path or None, timeout=s.lock_timeout)
    if dry_run:
        rep = plan_migration(s.db_path, to_version, from_version=from_version, timeout=s.lock_timeout)
    else:
        rep = migrate_labels(s.db_path, to_version, from_version=from_version, migrated_by=_curator(curator),
                             timeout=s.lock_timeout)
    if as_json:
        echo_json({**rep.as_dict(), "dry_run": dry_run})
        return
    verb = "would migrate" if dry_run else "migrated"
    click.echo(f"{rep.from_version} -> {rep.to_version}: {verb} {rep.migrated} label(s); "
               f"{'would queue' if dry_run else 'queued'} {rep.queued} for review (split); "
               f"{rep.already} already under {rep.to_version}; {rep.already_queued} still waiting from earlier; "
               f"{rep.other_version} under unrelated versions left alone")


@taxonomy_group.command("counts")
@click.option("--under", "version", required=True, help="Taxonomy version to read every label and prediction in.")
@click.option("--by-month", is_flag=True, help="Per type and month (the data behind a trend chart).")
@click.option("--json", "as_json", is_flag=True)
@db_option
@click.pass_context
def tax_counts(ctx: click.Context, version: str, by_month: bool, as_json: bool, db_path: str | None) -> None:
    """Papers per type under one version, translating decisions made under other versions."""
    from aisec_radar.taxonomy.migrate import counts_under, register_file

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    register_file(s.db_path, s.taxonomy_path or None, timeout=s.lock_timeout)
    out = counts_under(s.db_path, version, by_month=by_month, timeout=s.lock_timeout)
    if as_json:
        echo_json(out)
        return
    click.echo(f"taxonomy {version}: {out['papers']} classified or labelled paper(s)")
    for t, n in sorted(out["types"].items()):
        click.echo(f"  {t}: {n if not by_month else sum(n.values())}")
    for t, n in sorted(out["undecided"].items()):
        click.echo(f"  {t} (undecided split/merge): {n if not by_month else sum(n.values())}")


@taxonomy_group.command("export")
@click.argument("version")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@click.pass_context
def tax_export(ctx: click.Context, version: str, file: str, db_path: str | None) -> None:
    """Write a stored version's YAML to FILE (e.g. to point taxonomy_path at it)."""
    from aisec_radar.store import connect
    from aisec_radar.store import taxonomy_versions as tv

    s = get_settings(ctx, db_path=_db(ctx, db_path))
    with connect(s.db_path, read_only=True, timeout=s.lock_timeout) as con:
        row = tv.get_version(con, version)
    if row is None:
        raise InputError(f"taxonomy version '{version}' is not in {s.db_path}")
    out = Path(file)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(row["yaml_text"], encoding="utf-8")
    tmp.replace(out)
    click.echo(f"wrote taxonomy {version} to {out}")
