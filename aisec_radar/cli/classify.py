"""Classifier commands: classify, train, eval. Thin: parse flags, call aisec_radar.classify, print."""

from __future__ import annotations

import math
from pathlib import Path

import click

from aisec_radar.cli.common import db_option, echo_json, get_settings


@click.command("classify")
@click.option("--all", "all_papers", is_flag=True, help="Re-classify every paper, not only new and stale ones.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@db_option
@click.pass_context
def classify_cmd(ctx: click.Context, all_papers: bool, no_progress: bool, as_json: bool, db_path: str | None) -> None:
    """Classify new and stale papers (no prediction for the current model/taxonomy, or changed text)."""
    from aisec_radar.classify import classify_pending

    s = get_settings(ctx, db_path=db_path)
    counts = classify_pending(s, all_papers=all_papers, progress=not no_progress)
    if as_json:
        echo_json(counts)
        return
    click.echo(f"classified {counts['classified']} paper(s): auto {counts['auto']}, "
               f"needs review {counts['needs_review']} | in taxonomy {counts['in_taxonomy']}, "
               f"other AI security {counts['other_aisec']}, not relevant {counts['not_relevant']} | "
               f"encoded {counts['encoded']}, from cache {counts['cached']}")


@click.command("train")
@click.option("--labels", "label_files", multiple=True, type=click.Path(dir_okay=False),
              help="Extra labelled JSON Lines file(s) (repeatable); store labels and the bundled hand labels "
                   "are always used.")
@click.option("--corpus", type=click.Path(dir_okay=False), default=None,
              help="Corpus JSON Lines (.gz) for id-only labels and the pool of stream papers "
                   "(default: $AISEC_RADAR_CORPUS).")
@click.option("--pool", "pool_size", type=int, default=None,
              help="Corpus papers to add as low-weight pseudo-negatives (default 0; see docs/classifier.md).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write the artifact here (default: <db folder>/models/<version>).")
@click.option("--title-encoder", default=None,
              help="Encoder delta of the titles-only specialist: shipped | none | FILE.npz "
                   "(setting title_encoder_finetune; default shipped).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@db_option
@click.pass_context
def train_cmd(ctx: click.Context, label_files: tuple[str, ...], corpus: str | None, pool_size: int | None,
              out_dir: str | None, title_encoder: str | None, no_progress: bool, as_json: bool,
              db_path: str | None) -> None:
    """Retrain from all labels; promote the new model only if its cross-validated score is not worse."""
    from aisec_radar.classify import train
    from aisec_radar.errors import InputError

    s = get_settings(ctx, db_path=db_path, title_encoder_finetune=title_encoder)
    if corpus and not Path(corpus).exists():
        raise InputError(f"corpus file {corpus} does not exist")
    rep = train(s, [Path(p) for p in label_files], progress=not no_progress,
                out_dir=Path(out_dir) if out_dir else None, corpus_path=Path(corpus) if corpus else None,
                **({"pool_size": pool_size} if pool_size is not None else {}))
    if as_json:
        echo_json({"model_version": rep.model_version, "promoted": rep.promoted, "reason": rep.reason,
                   "path": rep.path, "metrics": rep.metrics, "title_model": rep.title_model})
        return
    m = rep.metrics
    click.echo(f"model {rep.model_version} written to {rep.path}")
    if "titles" in m:
        who = " (titles-only specialist)" if rep.title_model else ""
        click.echo(f"  CV titles-only{who}: macro-F1 {m['titles']['macro_f1']:.3f} (n={m['titles']['n']})")
    if "stream_full" in m:
        r = m["stream_full"]["relevance"]
        click.echo(f"  CV stream (title+abstract): relevance P {r['precision']:.3f} R {r['recall']:.3f} "
                   f"F1 {r['f1']:.3f}, type accuracy {m['stream_full'].get('type_accuracy')}")
    click.echo(("promoted: " if rep.promoted else "not promoted: ") + rep.reason)


@click.command("finetune-encoder")
@click.option("--labels", "label_files", multiple=True, type=click.Path(dir_okay=False),
              help="Extra labelled JSON Lines file(s) (repeatable), as for `train`.")
@click.option("--corpus", type=click.Path(dir_okay=False), default=None,
              help="Corpus JSON Lines (.gz) for id-only labels (default: $AISEC_RADAR_CORPUS).")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help="Delta file to write (.npz); select it with the setting encoder_finetune.")
@click.option("--layers", type=click.IntRange(1, 12), default=None, help="Top layers to train (default 2).")
@click.option("--epochs", type=click.FloatRange(0, 50), default=None, help="Passes over the labels (default 2).")
@click.option("--rank", type=click.IntRange(0, 4096), default=None,
              help="Stored rank of each weight matrix's change (default 64; 0 = the full change).")
@click.option("--supcon-weight", type=click.FloatRange(0, 100), default=None,
              help="Weight of the supervised contrastive term beside the softmax (0 = off).")
@click.option("--supcon-temperature", type=click.FloatRange(0, 10, min_open=True), default=None,
              help="Temperature of the contrastive term (default 0.1).")
@click.option("--supcon-views", type=click.Choice(["all", "title"]), default=None,
              help="Texts the contrastive term anchors on (default all).")
@click.option("--supcon-projection", type=click.IntRange(0, 4096), default=None,
              help="Width of a throw-away projection the contrastive term reads (default 0 = the vector itself).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@db_option
@click.pass_context
def finetune_encoder_cmd(ctx: click.Context, label_files: tuple[str, ...], corpus: str | None, out_file: str,
                         layers: int | None, epochs: float | None, rank: int | None,
                         supcon_weight: float | None, supcon_temperature: float | None,
                         supcon_views: str | None, supcon_projection: int | None, no_progress: bool,
                         as_json: bool, db_path: str | None) -> None:
    """Fine-tune the encoder's top layers on every label (the lower layers stay frozen), write the delta.

    The shipped classifier was trained over the shipped delta; after writing a new one, point
    encoder_finetune at it and run `aisec-radar train` so the heads learn the new vectors.
    """
    from aisec_radar.classify.data import default_corpus_path
    from aisec_radar.classify.finetune import finetune_encoder
    from aisec_radar.errors import InputError

    s = get_settings(ctx, db_path=db_path)
    for p in label_files:
        if not Path(p).exists():
            raise InputError(f"label file {p} does not exist")
    if corpus and not Path(corpus).exists():
        raise InputError(f"corpus file {corpus} does not exist")
    cfg = {k: v for k, v in (("layers", layers), ("epochs", epochs), ("rank", rank),
                             ("supcon_weight", supcon_weight), ("supcon_temperature", supcon_temperature),
                             ("supcon_views", supcon_views),
                             ("supcon_projection", supcon_projection)) if v is not None}
    delta = finetune_encoder(s, [Path(p) for p in label_files], Path(corpus) if corpus else default_corpus_path(),
                             Path(out_file), cfg, progress=not no_progress)
    summary = {"path": str(Path(out_file).resolve()), "digest": delta.digest, "items": delta.meta["items"],
               "layers": delta.meta["config"]["layers"], "rank": delta.meta["rank"],
               "parameters": sum(math.prod(sh) for sh in delta.parameters().values()),
               "stored": int(sum(a.size for a in delta.tensors.values())), "bytes": Path(out_file).stat().st_size}
    if as_json:
        echo_json(summary)
        return
    click.echo(f"encoder delta {summary['digest']} ({summary['layers']} layer(s), {summary['parameters']:,} "
               f"parameters changed, stored at rank {summary['rank']} in {summary['bytes'] / 1e6:.1f} MB, "
               f"{summary['items']} training texts) written to {summary['path']}")


@click.command("eval")
@click.option("--labels", "labels_file", required=True, type=click.Path(dir_okay=False),
              help="JSON Lines with title, optional abstract, attack (type id, other_aisec or not_relevant).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def eval_cmd(ctx: click.Context, labels_file: str, as_json: bool) -> None:
    """Score the classifier on a labelled file (needs no database)."""
    from aisec_radar.classify import evaluate_file

    s = get_settings(ctx)
    rep = evaluate_file(s, Path(labels_file))
    if as_json:
        echo_json(rep)
        return
    click.echo(f"n={rep['n']}  macro-F1 {rep['macro_f1']:.3f}  accuracy {rep['accuracy']:.3f}")
    r = rep["relevance"]
    click.echo(f"relevance (one of the nine types): P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}")
    ap = rep["auto_precision"]
    click.echo(f"sent to review {rep['review_share']:.1%}; precision of auto-accepted "
               + (f"{ap:.3f}" if ap is not None else "n/a"))
    click.echo(f"{'class':24s} {'P':>6s} {'R':>6s} {'F1':>6s} {'n':>5s}")
    for c, v in rep["per_class"].items():
        click.echo(f"{c:24s} {v['precision']:6.3f} {v['recall']:6.3f} {v['f1']:6.3f} {v['support']:5d}")
    classes = sorted(set(rep["confusion"]) | {p for row in rep["confusion"].values() for p in row})
    short = [c[:6] for c in classes]
    click.echo("confusion (rows true, columns predicted):")
    click.echo(f"{'':24s} " + " ".join(f"{s:>6s}" for s in short))
    for c in sorted(rep["confusion"]):
        row = rep["confusion"][c]
        click.echo(f"{c:24s} " + " ".join(f"{row.get(p, 0):6d}" for p in classes))
