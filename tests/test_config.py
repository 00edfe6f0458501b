"""Settings: defaults < TOML file < CONVTRACK_* environment < command line; checked loudly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from convtrack.config import Settings, load_settings
from convtrack.errors import ConfigError


@pytest.fixture(autouse=True)
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No ./convtrack.toml of the developer's can leak into a test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def test_defaults(empty_cwd: Path) -> None:
    settings = load_settings(env={})
    assert settings == Settings()
    assert settings.port == 8787 and settings.host == "127.0.0.1"
    assert settings.default_currency == "USD" and settings.store_raw_pii is False
    expected = (empty_cwd / "convtrack-data" / "convtrack.duckdb").resolve().as_posix()
    assert settings.store_url == "duckdb://" + expected


def test_explicit_store_url_wins_over_data_dir() -> None:
    settings = load_settings(env={}, overrides={"store": "duckdb:///srv/ct.duckdb"})
    assert settings.store_url == "duckdb:///srv/ct.duckdb"


def test_toml_file_values_are_cast(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "ct.toml", """
        port = 9001
        data_dir = "/var/lib/convtrack"
        default_currency = "EUR"
        store_raw_pii = true
        commit_interval_ms = 5
        log_level = "debug"
    """)  # fmt: skip
    s = load_settings(path, env={})
    assert s.port == 9001 and s.data_dir == Path("/var/lib/convtrack")
    assert s.default_currency == "EUR" and s.store_raw_pii is True and s.log_level == "debug"
    assert s.commit_interval_ms == 5.0 and isinstance(s.commit_interval_ms, float)


def test_convtrack_toml_in_the_working_directory(empty_cwd: Path) -> None:
    write_toml(empty_cwd / "convtrack.toml", "port = 9002\n")
    assert load_settings(env={}).port == 9002


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "elsewhere.toml", "port = 9003\n")
    assert load_settings(env={"CONVTRACK_CONFIG": str(path)}).port == 9003


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "ct.toml", 'port = 9001\nhost = "0.0.0.0"\n')
    s = load_settings(path, env={"CONVTRACK_PORT": "9100", "CONVTRACK_STORE_RAW_PII": "yes"})
    assert s.port == 9100 and s.host == "0.0.0.0" and s.store_raw_pii is True


def test_command_line_overrides_everything(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "ct.toml", "port = 9001\n")
    s = load_settings(
        path,
        env={"CONVTRACK_PORT": "9100", "CONVTRACK_DATA_DIR": "/env"},
        overrides={"port": 9200, "data_dir": None, "host": "::1"},
    )
    assert s.port == 9200 and s.host == "::1"
    assert s.data_dir == Path("/env")  # a flag that was not given (None) changes nothing


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("ON", True), (" yes ", True), ("0", False), ("off", False)],
)
def test_boolean_spellings(raw: str, expected: bool) -> None:
    assert load_settings(env={"CONVTRACK_TRUST_FORWARDED_FOR": raw}).trust_forwarded_for is expected


def test_settings_survive_the_trip_to_a_worker_process(tmp_path: Path) -> None:
    s = load_settings(env={}, overrides={
        "port": 9300, "data_dir": tmp_path / "d", "store_raw_pii": True,
        "commit_interval_ms": 0.5, "default_currency": "GBP",
    })  # fmt: skip
    assert load_settings(env=s.as_env()) == s


# -- failures ---------------------------------------------------------------------------


def config_error(**kw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(**kw)
    assert info.value.code == "invalid_config"
    return info.value.message


def test_missing_config_file(tmp_path: Path) -> None:
    assert "does not exist" in config_error(config_file=tmp_path / "nope.toml", env={})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "broken.toml", "port = = 1\n")
    assert str(path) in config_error(config_file=path, env={})


def test_unknown_key_in_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "ct.toml", "prot = 8000\n")
    message = config_error(config_file=path, env={})
    assert "'prot'" in message and str(path) in message


def test_toml_sections_are_flattened(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path / "ct.toml",
        'region_header = "cf-ipcountry"\n'
        '[consent]\nads_when_denied = "pseudonymous"\nunknown_region = "granted"\n',
    )
    settings = load_settings(config_file=path, env={})
    assert settings.consent_ads_when_denied == "pseudonymous"
    assert settings.consent_unknown_region == "granted"
    assert settings.region_header == "cf-ipcountry"


def test_an_unknown_key_in_a_section_is_named(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "ct.toml", '[consent]\nads_when_deneid = "nothing"\n')
    assert "'consent_ads_when_deneid'" in config_error(config_file=path, env={})
    path = write_toml(tmp_path / "ct2.toml", "[colours]\nred = 1\n")
    assert "'colours'" in config_error(config_file=path, env={})


def test_unknown_override() -> None:
    assert "'colour'" in config_error(env={}, overrides={"colour": "red"})


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"CONVTRACK_PORT": "eighty"}, ["'port'", "CONVTRACK_PORT"]),
        ({"CONVTRACK_STORE_RAW_PII": "maybe"}, ["'store_raw_pii'", "CONVTRACK_STORE_RAW_PII"]),
        ({"CONVTRACK_COMMIT_INTERVAL_MS": "fast"}, ["'commit_interval_ms'"]),
        ({"CONVTRACK_PORT": "0"}, ["port"]),
        ({"CONVTRACK_PORT": "70000"}, ["port"]),
        ({"CONVTRACK_MAX_BODY_BYTES": "10"}, ["max_body_bytes"]),
        ({"CONVTRACK_MAX_BATCH_EVENTS": "0"}, ["max_batch_events"]),
        ({"CONVTRACK_COMMIT_MAX_EVENTS": "0"}, ["commit_max_events"]),
        ({"CONVTRACK_COMMIT_INTERVAL_MS": "5000"}, ["commit_interval_ms"]),
        ({"CONVTRACK_QUEUE_MAX_EVENTS": "10"}, ["queue_max_events"]),
        ({"CONVTRACK_DEFAULT_CURRENCY": "EURO"}, ["default_currency"]),
        ({"CONVTRACK_DEFAULT_CURRENCY": "usd"}, ["default_currency"]),
        ({"CONVTRACK_DEFAULT_CURRENCY": "ABC"}, ["default_currency"]),
        ({"CONVTRACK_MAX_FUTURE_SECONDS": "-1"}, ["max_future_seconds"]),
        ({"CONVTRACK_LOG_LEVEL": "verbose"}, ["log_level"]),
        ({"CONVTRACK_STORE": "/just/a/path.duckdb"}, ["store", "/just/a/path.duckdb"]),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], names: list[str]) -> None:
    message = config_error(env=env)
    for name in names:
        assert name in message


@pytest.mark.parametrize(
    "toml", ["port = 80.5", "port = true", 'port = "x"', "max_future_seconds = 1.5"]
)
def test_wrong_types_in_the_file(tmp_path: Path, toml: str) -> None:
    path = write_toml(tmp_path / "ct.toml", toml + "\n")
    message = config_error(config_file=path, env={})
    assert toml.split(" ")[0] in message and str(path) in message


def test_the_command_line_is_named_as_the_source() -> None:
    assert "command line" in config_error(env={}, overrides={"port": "http"})
