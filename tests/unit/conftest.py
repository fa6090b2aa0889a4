"""Fixtures of the packaging tests: the collection tarball, built once per test session."""

import glob
import os
import subprocess

import pytest

from support import BIN, ROOT


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory):
    """Build the collection from the working tree as ``make build`` does; return the tarball's path."""
    out = str(tmp_path_factory.mktemp("build"))
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", out, ROOT],
                   check=True, stdout=subprocess.PIPE)
    [tarball] = glob.glob(os.path.join(out, "oxzep7-python-*.tar.gz"))
    return tarball
