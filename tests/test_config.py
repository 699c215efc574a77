"""Settings precedence (defaults < TOML < env < flags) and start-up errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aisec_radar.config import Settings, load_settings
from aisec_radar.errors import ConfigError


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={})
    assert s == Settings()
    assert s.db_path == "data/aisec-radar.duckdb"
    assert s.categories == ["cs.CR", "cs.LG"]


def test_precedence_file_env_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("aisec-radar.toml").write_text('db_path = "from-file.duckdb"\ncrawl_delay = 5\n'
                                        'categories = ["cs.CR"]\ncontact = "file@x"\n')
    s = load_settings(env={})
    assert (s.db_path, s.crawl_delay, s.categories, s.contact) == ("from-file.duckdb", 5.0, ["cs.CR"], "file@x")
    env = {"AISEC_RADAR_DB_PATH": "from-env.duckdb", "AISEC_RADAR_CRAWL_DELAY": "1.5",
           "AISEC_RADAR_CATEGORIES": "cs.LG, stat.ML"}
    s = load_settings(env=env)
    assert (s.db_path, s.crawl_delay, s.categories, s.contact) == ("from-env.duckdb", 1.5, ["cs.LG", "stat.ML"],
                                                                   "file@x")
    s = load_settings(env=env, overrides={"db_path": "from-flag.duckdb", "crawl_delay": None})
    assert (s.db_path, s.crawl_delay) == ("from-flag.duckdb", 1.5)


def test_explicit_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "custom.toml"
    cfg.write_text('[aisec_radar]\nretrain_min_labels = 7\n')
    assert load_settings(config_file=cfg, env={}).retrain_min_labels == 7
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_file=tmp_path / "missing.toml", env={})


@pytest.mark.parametrize(
    "toml, match",
    [
        ('db_pth = "x"', r"unknown setting 'db_pth'.*did you mean 'db_path'"),
        ('crawl_delay = "fast"', r"setting 'crawl_delay'.*expected number.*Hint"),
        ("retrain_min_labels = 2.5", r"setting 'retrain_min_labels'.*expected integer"),
        ("categories = 5", r"setting 'categories'.*expected list of strings"),
        ("db_path = [", r"not valid TOML"),
    ],
)
def test_bad_file_fails_naming_key_and_type(tmp_path: Path, toml: str, match: str) -> None:
    cfg = tmp_path / "aisec-radar.toml"
    cfg.write_text(toml + "\n")
    with pytest.raises(ConfigError, match=match):
        load_settings(config_file=cfg, env={})


def test_bad_env_fails_naming_variable() -> None:
    with pytest.raises(ConfigError, match="AISEC_RADAR_LOCK_TIMEOUT"):
        load_settings(env={"AISEC_RADAR_LOCK_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(env={"AISEC_RADAR_COLOUR": "red"})


def test_secret_is_masked() -> None:
    s = load_settings(env={"AISEC_RADAR_CURATOR_SECRET_HASH": "abc"})
    assert s.public_dict()["curator_secret_hash"] == "***"
