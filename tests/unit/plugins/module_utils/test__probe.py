"""The probe's package verdicts on a real wheel with a local version label (``1.0+cpu``)."""

import pytest
from support import build_wheel

from ansible_collections.oxzep7.python.plugins.module_utils._probe import check_packages


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
