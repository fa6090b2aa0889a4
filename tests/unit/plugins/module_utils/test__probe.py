"""The probe's package verdicts: on a real wheel with a local version label (``1.0+cpu``), and Requires-Python
against a target series or an exact interpreter."""

import pytest
from support import build_wheel

from ansible_collections.oxzep7.python.plugins.module_utils._probe import (
    check_packages, judge, python_allows, target_tags)


@pytest.fixture(scope="module")
def local_version_links(tmp_path_factory, wheelhouse, old_python):
    """A find-links directory that holds only ``localv-1.0+cpu-py3-none-any.whl``, built by ``uv build``,
    as a PyTorch-style index holds only ``torch-2.1.0+cpu`` builds."""
    base, out = tmp_path_factory.mktemp("localv-src"), tmp_path_factory.mktemp("localv-links")
    build_wheel(str(base), str(out), old_python, wheelhouse, "localv", "1.0+cpu")
    return str(out)


def test_a_public_pin_matches_the_local_build_pip_installs(local_version_links):
    """``localv==1.0`` installs ``1.0+cpu`` (PEP 440: a public ``==`` matches local versions)."""
    request = dict(pins=[dict(name="localv", version="1.0", kind="pin", url=None)], targets=["3.12"],
                   sources=[{"links": local_version_links}], allow_sdist=False, platforms=["manylinux_2_17_x86_64"])
    verdict = check_packages(request)["packages"][0]["targets"]["3.12"]
    assert (verdict["status"], verdict["version"], verdict["file"]) == (
        "wheel", "1.0+cpu", "localv-1.0+cpu-py3-none-any.whl")
    # a pin of another local build stays what it says: not on the index
    request["pins"][0]["version"] = "1.0+cu121"
    assert check_packages(request)["packages"][0]["targets"]["3.12"]["status"] == "none"


@pytest.mark.parametrize("spec,target,python,allowed", [
    (">=3.8.1", "3.8", None, True),  # flake8 6: some 3.8 release admits it
    (">=3.8.1", "3.8.0", None, False),  # an exact target is that release
    (">=3.12.4", "3.12", "3.12.1", True),  # the interpreter stage may install 3.12.4 or later
    ("<3.12.1", "3.12", None, True),
    ("<3.12.1", "3.12", "3.12.1", False),  # the rebuild gets 3.12.1 or later
    ("!=3.12.*", "3.12", None, False),
    ("<3.12", "3.12", None, False),
    ("==3.12.*", "3.12", "3.12.8", True),
    (">=3.7,<3.12", "3.11", None, True),
    ("not a specifier", "3.12", None, True),  # pip ignores an invalid Requires-Python too
    (None, "3.12", None, True),
])
def test_requires_python_against_a_series_or_one_release(spec, target, python, allowed):
    assert python_allows(spec, target, python) is allowed


def test_index_requires_python_is_checked_from_the_installed_interpreter_on():
    """data-requires-python on the index: the series 3.12 admits <3.12.1; with 3.12.1 installed it does not."""
    files = [dict(filename="pin4-1.0-py3-none-any.whl", url="https://idx.example/pin4-1.0-py3-none-any.whl",
                  requires_python="<3.12.1", yanked=False, yanked_reason=None)]
    accepted = target_tags("3.12", ["manylinux_2_17_x86_64"])
    assert judge(files, "3.12", accepted, False)["status"] == "wheel"
    verdict = judge(files, "3.12", accepted, False, python="3.12.1")
    assert (verdict["status"], verdict["reason"]) == (
        "none", "Requires-Python <3.12.1 excludes 3.12 from 3.12.1 on (the newest 3.12 installed)")
    verdict = judge(files, "3.12.1", accepted, False)
    assert (verdict["status"], verdict["reason"]) == ("none", "Requires-Python <3.12.1 excludes 3.12.1")
