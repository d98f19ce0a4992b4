"""Configuration loading, validation and precedence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from linkaudit.config import (
    Config,
    describe_schema,
    find_config,
    load_config,
    with_override,
)
from linkaudit.errors import ConfigError, ExitCode

PROJECT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file(tmp_path: Path) -> None:
    """With no config file anywhere, built-in defaults are used."""
    config = load_config(environ={}, search_from=tmp_path)
    assert config.source is None
    assert config.network.allow_private is False
    assert config.report.fail_on == "error"


def test_unknown_key_names_key_position_and_suggestion(tmp_path: Path) -> None:
    """An unknown key is an error naming the key, its line and column, and the closest key."""
    path = write(tmp_path, "network:\n  timeout: 3\n  concurency: 4\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert f"{path}:2:3: network.timeout: unknown key" in message
    assert caught.value.exit_code == ExitCode.USAGE


def test_suggests_closest_key(tmp_path: Path) -> None:
    """A misspelt key gets the closest valid key suggested."""
    path = write(tmp_path, "network:\n  concurency: 4\n")
    with pytest.raises(ConfigError, match=r"did you mean 'concurrency'\?"):
        load_config(path, environ={})


def test_unknown_section_suggests(tmp_path: Path) -> None:
    """A misspelt section is reported at the top level with a suggestion."""
    path = write(tmp_path, "netwrk: {}\n")
    with pytest.raises(ConfigError, match=r":1:1: netwrk: unknown key \(did you mean 'network'"):
        load_config(path, environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("network:\n  concurrency: many\n", "network.concurrency: expected a whole number"),
        ("network:\n  concurrency: 0\n", "network.concurrency: 0 is below the minimum 1"),
        ("network:\n  allow_private: yes please\n", "expected true or false"),
        ("report:\n  fail_on: warnin\n", "did you mean 'warning'"),
        ("scan:\n  include: '*.md'\n", "scan.include: expected a list"),
        ("cache:\n  max_age: soon\n", "expected a duration"),
        ("network:\n  exclude: ['(']\n", "not a valid regular expression"),
        ("cleaning:\n  sites:\n    x.com:\n      parms: [a]\n", "cleaning.sites.x.com.parms"),
        ("- a\n- b\n", "expected a mapping of sections"),
    ],
)
def test_invalid_values(tmp_path: Path, text: str, expected: str) -> None:
    """Wrong types and out-of-range values are errors that say what was expected."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert expected in str(caught.value)


def test_invalid_yaml_has_position(tmp_path: Path) -> None:
    """Broken YAML is reported with its position, not a traceback."""
    path = write(tmp_path, "network:\n  concurrency: [1\n")
    with pytest.raises(ConfigError, match=r"config.yaml:\d+:\d+: invalid YAML"):
        load_config(path, environ={})


def test_missing_named_file(tmp_path: Path) -> None:
    """A --config file that does not exist is a config error."""
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_durations(tmp_path: Path) -> None:
    """Durations accept seconds or a unit; dead_after.days counts bare numbers as days."""
    path = write(tmp_path, "cache:\n  max_age: 12h\ndead_after:\n  days: 2\n"
                           "network:\n  per_host_interval: 0.25\n")
    config = load_config(path, environ={})
    assert config.cache.max_age == 12 * 3600
    assert config.dead_after.days == 2 * 86400
    assert config.network.per_host_interval == 0.25


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    """A flag beats an environment variable, which beats the file, which beats the default."""
    path = write(tmp_path, "report:\n  fail_on: info\nnetwork:\n  retries: 5\n")
    env = {"LINKAUDIT_REPORT__FAIL_ON": "warning", "LINKAUDIT_NETWORK__CONCURRENCY": "7"}
    config = load_config(path, environ=env, overrides={"report.fail_on": "never"})
    assert config.report.fail_on == "never"  # flag
    assert config.network.concurrency == 7  # environment over default
    assert config.network.retries == 5  # file over default
    assert load_config(path, environ=env).report.fail_on == "warning"  # env over file


def test_env_names_the_config_file(tmp_path: Path) -> None:
    """LINKAUDIT_CONFIG selects the file when no --config flag is given."""
    path = write(tmp_path, "network:\n  retries: 4\n")
    config = load_config(environ={"LINKAUDIT_CONFIG": str(path)}, search_from=Path("/"))
    assert config.network.retries == 4
    assert config.source == path.resolve()


def test_bad_env_override_is_reported() -> None:
    """An environment override with a bad key names where it came from."""
    with pytest.raises(ConfigError, match=r"environment: network.concurency: unknown key"):
        load_config(environ={"LINKAUDIT_NETWORK__CONCURENCY": "3"}, search_from=Path("/"))


def test_find_config_in_parent(tmp_path: Path) -> None:
    """Without --config, the nearest linkaudit.yaml in the folder or a parent is used."""
    path = tmp_path / "linkaudit.yaml"
    path.write_text("{}\n", encoding="utf-8")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_config(nested) == path.resolve()


def test_relative_paths_resolve_from_config(tmp_path: Path) -> None:
    """store.path is relative to the folder holding the config file."""
    path = write(tmp_path, "store:\n  path: db/history.sqlite\n")
    config = load_config(path, environ={})
    assert config.resolve(config.store.path) == tmp_path.resolve() / "db" / "history.sqlite"


def test_with_override_rejects_non_section() -> None:
    """A dotted override through a leaf key is an error, not a crash."""
    with pytest.raises(ConfigError, match="is not a section"):
        with_override(Config(), "report.fail_on.x", "1")


def test_shipped_config_is_valid_and_complete() -> None:
    """The commented config.yaml at the top level loads and mentions every schema key."""
    shipped = PROJECT / "config.yaml"
    config = load_config(shipped, environ={})
    assert isinstance(config, Config)
    text = shipped.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    for dotted, _doc, _default in describe_schema():
        leaf = dotted.split(".")[-1]
        assert f"{leaf}:" in text, f"config.yaml does not document {dotted}"


def test_plain_config_yaml_is_never_discovered(tmp_path: Path) -> None:
    """A site's own config.yaml (Hugo's baseURL...) is not taken for linkaudit's."""
    write(tmp_path, "baseURL: https://example.org/\n")
    assert find_config(tmp_path) is None
    assert load_config(environ={}, search_from=tmp_path).source is None


def test_discovery_order_in_one_folder(tmp_path: Path) -> None:
    """linkaudit.yaml comes before .linkaudit.yaml, which comes before pyproject.toml."""
    (tmp_path / "pyproject.toml").write_text("[tool.linkaudit]\n", encoding="utf-8")
    assert find_config(tmp_path) == (tmp_path / "pyproject.toml").resolve()
    (tmp_path / ".linkaudit.yaml").write_text("{}\n", encoding="utf-8")
    assert find_config(tmp_path) == (tmp_path / ".linkaudit.yaml").resolve()
    (tmp_path / "linkaudit.yaml").write_text("{}\n", encoding="utf-8")
    assert find_config(tmp_path) == (tmp_path / "linkaudit.yaml").resolve()


def test_pyproject_tool_table(tmp_path: Path) -> None:
    """A [tool.linkaudit] table configures like the YAML file; a pyproject.toml without one
    is passed over on the way up."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.linkaudit.network]\nretries = 4\n[tool.linkaudit.dead_after]\ndays = "2d"\n',
        encoding="utf-8")
    nested = tmp_path / "site"
    nested.mkdir()
    (nested / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    config = load_config(environ={}, search_from=nested)
    assert config.source == (tmp_path / "pyproject.toml").resolve()
    assert config.network.retries == 4 and config.dead_after.days == 2 * 86400


def test_pyproject_unknown_key_names_the_file(tmp_path: Path) -> None:
    """A wrong key in [tool.linkaudit] is a config error naming pyproject.toml and the key."""
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.linkaudit.network]\nconcurency = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"pyproject.toml: network.concurency: unknown key"):
        load_config(environ={}, search_from=tmp_path)
    path.write_text("[tool.linkaudit\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(environ={}, search_from=tmp_path)


def test_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    """A linkaudit.yaml above the folder holding .git belongs to another project: not used."""
    (tmp_path / "linkaudit.yaml").write_text("{}\n", encoding="utf-8")
    repository = tmp_path / "blog"
    (repository / ".git").mkdir(parents=True)
    (repository / "posts").mkdir()
    assert find_config(repository / "posts") is None
    (repository / ".linkaudit.yaml").write_text("{}\n", encoding="utf-8")
    assert find_config(repository / "posts") == (repository / ".linkaudit.yaml").resolve()


def test_named_plain_config_yaml_is_read(tmp_path: Path) -> None:
    """--config config.yaml (any name) is read as given."""
    path = write(tmp_path, "network:\n  retries: 5\n")
    assert load_config(path, environ={}).network.retries == 5
