"""_proof: the proof cache is untrusted input, and the error line of a failed build."""

import json

import pytest

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error
from ansible_collections.oxzep7.python.plugins.module_utils._proof import error_lines, proof_key, read_cache

RECORD = dict(name="PyYAML", version="5.4.1", target="3.12", platform="manylinux_2_36_x86_64", result="failed",
              seconds=8.4, error="AttributeError: 'build_ext' object has no attribute 'cython_sources'",
              compiler_error=None, interpreter="/opt/pyenv/versions/3.12.1/bin/python3.12", installer="uv",
              at="2026-11-22T00:44:14Z")
KEY = proof_key("PyYAML", "5.4.1", "3.12", "manylinux_2_36_x86_64")


def write(tmp_path, data):
    path = str(tmp_path / "sdist-proofs.json")
    with open(path, "w") as fh:
        fh.write(data if isinstance(data, str) else json.dumps(data))
    return path


def test_cache_reads_back_and_a_missing_file_is_empty(tmp_path):
    assert KEY == "pyyaml==5.4.1 cp312 manylinux_2_36_x86_64"
    assert read_cache(str(tmp_path / "absent.json")) == {}
    assert read_cache(write(tmp_path, {"version": 1, "proofs": {KEY: RECORD}})) == {KEY: RECORD}


@pytest.mark.parametrize("data", [
    "{not json",
    {"version": 2, "proofs": {}},
    {"version": 1, "proofs": []},
    {"version": 1, "proofs": {KEY: dict(RECORD, result="maybe")}},
    {"version": 1, "proofs": {KEY: dict(RECORD, seconds=True)}},
    {"version": 1, "proofs": {KEY: dict(RECORD, extra=1)}},
    {"version": 1, "proofs": {KEY: dict((k, v) for k, v in RECORD.items() if k != "error")}},
    {"version": 1, "proofs": {KEY.replace("5.4.1", "6.0.1"): RECORD}},  # a failure filed under a good release
])
def test_cache_of_another_shape_is_refused_naming_the_file(tmp_path, data):
    path = write(tmp_path, data)
    with pytest.raises(Oxzep7Error) as caught:
        read_cache(path)
    assert path in caught.value.msg and "remove it" in caught.value.msg


def test_error_lines_of_a_failed_compile():
    output = "\n".join([
        "  Building wheel for frozenlist (pyproject.toml): started",
        "  error: subprocess-exited-with-error",
        "      frozenlist/_frozenlist.c:5967:34: error: 'PyThreadState' has no member named 'curexc_traceback'",
        "      frozenlist/_frozenlist.c:6338:51: error: 'PyLongObject' has no member named 'ob_digit'",
        "      error: Command '['gcc', '-O3', '-c', 'frozenlist/_frozenlist.c']' returned non-zero exit status 1.",
        "      [end of output]",
        "  note: This error originates from a subprocess, and is likely not a problem with pip.",
        "  ERROR: Failed building wheel for frozenlist",
        "ERROR: Failed to build one or more wheels",
    ])
    assert error_lines(output) == (
        "error: Command 'gcc ...' returned non-zero exit status 1.",
        "frozenlist/_frozenlist.c:5967:34: error: 'PyThreadState' has no member named 'curexc_traceback'")
    assert error_lines("Traceback (most recent call last):\n  File \"setup.py\", line 1\n"
                       "ModuleNotFoundError: No module named 'Cython'\n") == (
        "ModuleNotFoundError: No module named 'Cython'", None)
