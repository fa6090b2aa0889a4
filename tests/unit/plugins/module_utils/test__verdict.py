"""The verdict of venv_preflight: targets, composition and the cache a host keeps (untrusted when read)."""

import json
import os

import pytest

from ansible_collections.oxzep7.python.plugins.module_utils._state import slug
from ansible_collections.oxzep7.python.plugins.module_utils._verdict import (
    cache_key, check_targets_for, compose, read_cached, write_cached)
from ansible_collections.oxzep7.python.plugins.module_utils._venv import installed_versions


def test_targets_for_stepwise_path():
    assert check_targets_for("3.9.18", "3.12") == ["3.12", "3.10", "3.11"]
    assert check_targets_for("3.9.18", "3.12", ["3.13", "3.12"], stepwise_path=False) == ["3.12", "3.13"]
    assert check_targets_for("3.6.15", "3.14") == ["3.14", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12"]  # six at most


def test_compose_defers_only_the_targets_unproven_sdists():
    unproven = dict(target="3.12", check="sdist_unproven", name="termcolor", message="unproven")
    code = dict(target="3.12", check="removed_module", module="imp", message="imports imp")
    other = dict(target="3.11", check="package", name="numpy", message="no wheel")
    found = dict(inhibitors=[unproven, code, other], cautions=[], allowlisted=[], disk=None, code=None)
    deferred = compose("/srv/app/venv", "3.12", "3.9.18", found, unproven="defer")
    assert (deferred["status"], deferred["deferred"], deferred["inhibitors"]) == ("inhibited", [unproven], [code])
    strict = compose("/srv/app/venv", "3.12", "3.9.18", dict(found, inhibitors=[unproven, other]))
    assert (strict["status"], strict["inhibitors"], strict["deferred"]) == ("inhibited", [unproven], [])
    assert compose("/srv/app/venv", "3.12", "3.9.18", dict(found, inhibitors=[other]))["status"] == "ready"
    absent = compose("/srv/app/venv", "3.12", None)
    assert absent["status"] == "absent" and absent["inhibitors"][0]["check"] == "venv"
    assert compose("/srv/app/venv", "3.12", "3.12.1", on_target=True)["status"] == "already_current"


RESULT_KEYS = ["changed", "reused", "verdict"]


def _kept(tmp_path):
    state, stable = str(tmp_path / "state"), "/srv/app/venv"
    result = dict(changed=False, reused=False, verdict=compose(stable, "3.12", "3.9.18", {}))
    key = cache_key("ab" * 32, dict(path=stable, run_id="r1"))
    write_cached(state, stable, key, result)
    return state, stable, key, result, os.path.join(state, slug(stable), "preflight.json")


def test_cache_is_read_back_for_its_key_only(tmp_path):
    state, stable, key, result, path = _kept(tmp_path)
    assert read_cached(state, stable, key, RESULT_KEYS) == result
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert read_cached(state, stable, cache_key("ab" * 32, dict(path=stable, run_id="r2")), RESULT_KEYS) is None
    assert read_cached(state, stable, cache_key("cd" * 32, dict(path=stable, run_id="r1")), RESULT_KEYS) is None
    # a newer patch release installed under the pyenv root since: checked again
    newer = cache_key("ab" * 32, dict(path=stable, run_id="r1"), installed=["3.12.1", "3.12.8"])
    assert newer != key and read_cached(state, stable, newer, RESULT_KEYS) is None


def test_installed_versions_lists_the_pyenv_root(tmp_path):
    for name in ("3.12.8", "3.12.1"):
        os.makedirs(str(tmp_path / "versions" / name))
    assert installed_versions(str(tmp_path)) == ["3.12.1", "3.12.8"]
    assert installed_versions(str(tmp_path / "missing")) == [] and installed_versions(None) == []


@pytest.mark.parametrize("tamper", [
    lambda d: "not json",
    lambda d: json.dumps([d]),
    lambda d: json.dumps(dict(d, version=2)),
    lambda d: json.dumps(dict(d, extra=1)),
    lambda d: json.dumps(dict(d, result=dict(d["result"], unexpected=True))),
    lambda d: json.dumps(dict(d, result=dict(d["result"], verdict=dict(d["result"]["verdict"], status="done")))),
    lambda d: json.dumps(dict(d, result=dict(d["result"], verdict=dict(d["result"]["verdict"], inhibitors="x")))),
    lambda d: json.dumps(dict(d, result=dict(d["result"], verdict=dict(d["result"]["verdict"], inhibitors=[{}])))),
    lambda d: json.dumps(dict(d, result=dict(d["result"], verdict=dict(d["result"]["verdict"], reaches=3.12)))),
])
def test_a_tampered_cache_is_never_trusted(tmp_path, tamper):
    state, stable, key, _result, path = _kept(tmp_path)
    with open(path) as fh:
        data = json.load(fh)
    with open(path, "w") as fh:
        fh.write(tamper(data))
    assert read_cached(state, stable, key, RESULT_KEYS) is None
