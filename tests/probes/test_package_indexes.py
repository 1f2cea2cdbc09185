"""Index settings of pip and uv are both recorded: neither tool's index hides the other's."""

from __future__ import annotations

from envcapture.probes.python_env import package_indexes

PIP = "https://pip.example.com/simple"
UV = "https://uv.example.com/simple"


def indexes(tmp_path, env, pip_conf=None):
    prefix = tmp_path / "venv"
    prefix.mkdir(exist_ok=True)
    if pip_conf:
        (prefix / "pip.conf").write_text(pip_conf)
    warnings = []
    found = package_indexes(str(prefix), {"HOME": str(tmp_path), **env}, str(tmp_path), warnings)
    return found, warnings


def test_pip_and_uv_index_variables_are_both_recorded(tmp_path):
    found, warnings = indexes(tmp_path, {"PIP_INDEX_URL": PIP, "UV_INDEX_URL": UV})
    assert warnings == []
    assert found.index_url == UV
    assert found.extra_index_urls == [PIP]


def test_pip_config_overridden_by_pip_variable_is_not_an_extra_index(tmp_path):
    found, _ = indexes(tmp_path, {"PIP_INDEX_URL": PIP}, "[global]\nindex-url = https://old.example.com/simple\n")
    assert found.index_url == PIP and found.extra_index_urls == []


def test_the_same_index_for_both_tools_is_recorded_once(tmp_path):
    found, _ = indexes(tmp_path, {"PIP_INDEX_URL": PIP, "UV_DEFAULT_INDEX": PIP})
    assert found.index_url == PIP and found.extra_index_urls == []


def test_a_broken_config_file_costs_only_itself(tmp_path):
    """A user pip.conf that configparser cannot read is said once; the files pip reads after it still count."""
    broken = tmp_path / ".config" / "pip" / "pip.conf"
    broken.parent.mkdir(parents=True)
    broken.write_text("index-url = https://no-section.example.com/simple\n")
    found, warnings = indexes(tmp_path, {"XDG_CONFIG_DIRS": str(tmp_path / "xdg")},
                              "[global]\nindex-url = https://venv.example.com/simple\n")
    assert found.index_url == "https://venv.example.com/simple"
    assert [w.message for w in warnings] == ["~/.config/pip/pip.conf: unreadable pip config"]
