"""The collection builds with ansible-galaxy, installs, and its modules and roles resolve from the install."""

import glob
import os
import subprocess
import sys

from support import ROOT

BIN = os.path.dirname(sys.executable)


def test_build_and_install(tmp_path):
    out = str(tmp_path / "build")
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", out, ROOT],
                   check=True, stdout=subprocess.PIPE)
    tarball = glob.glob(os.path.join(out, "oxzep7-python-*.tar.gz"))[0]
    listing = subprocess.run(["tar", "-tzf", tarball], stdout=subprocess.PIPE, universal_newlines=True,
                             check=True).stdout.split()
    assert "plugins/modules/venv_switch.py" in listing and "roles/upgrade/tasks/main.yml" in listing
    assert not [n for n in listing if n.startswith((".venv", ".cache", ".git/"))]
    dest = str(tmp_path / "collections")
    # only the new location: the working tree's link must neither satisfy nor shadow the install
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=dest)
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--force",
                    "-p", dest, tarball], check=True, stdout=subprocess.PIPE, env=env)
    assert os.path.isfile(os.path.join(dest, "ansible_collections", "oxzep7", "python", "MANIFEST.json"))
    doc = subprocess.run([os.path.join(BIN, "ansible-doc"), "oxzep7.python.venv_rebuild"], env=env,
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert os.path.join(dest, "ansible_collections", "oxzep7", "python") in doc
    roles = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "role", "-l", "oxzep7.python"], env=env,
                           stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert "oxzep7.python.upgrade" in roles and "oxzep7.python.rollback" in roles
