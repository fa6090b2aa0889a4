"""The collection builds with ansible-galaxy, ships what its users need and no dev file, installs,
and its modules and roles resolve from the install."""

import os
import subprocess
import tarfile

from support import BIN, ROOT

# Everything the tarball may hold besides MANIFEST.json and FILES.json: what users need.
SHIPPED_FILES = {"README.md", "LICENSE", "CHANGELOG.rst", "changelogs/changelog.yaml",
                 "meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-requirements.txt"}
SHIPPED_TREES = ("plugins/", "roles/", "playbooks/", "docs/")
# Dev-only: galaxy.yml's build_ignore keeps these out.
DEV_FILES = ("Makefile", "pytest.ini", ".ansible-lint", ".ansible-lint-ignore", ".yamllint", ".gitignore",
             "changelogs/config.yaml")
DEV_TREES = ("scripts/", "tests/", "molecule/", "benchmarks/", ".ci/", ".config/", ".venv/", ".cache/", ".git/",
             ".demo/", "changelogs/fragments/", "python-upgrade-reports/")


def test_tarball_ships_what_users_need_and_no_dev_file(collection_tarball):
    with tarfile.open(collection_tarball) as tar:
        members = {m.name: m for m in tar.getmembers()}
    files = {name for name, m in members.items() if m.isfile()} - {"MANIFEST.json", "FILES.json"}
    assert SHIPPED_FILES <= files
    assert not sorted(n for n in files - SHIPPED_FILES if not n.startswith(SHIPPED_TREES)), "not for users"
    assert not sorted(n for n in members if n in DEV_FILES or (n + "/").startswith(DEV_TREES)), "dev files"
    # docs/ ships its text and the example execution environment, not the benchmark charts and data
    assert not sorted(n for n in files if n.startswith("docs/") and not n.endswith((".md", ".yml")))
    assert "docs/execution-environment.yml" in files
    # Galaxy refuses a collection whose role has no README.md
    assert {"roles/%s/README.md" % role for role in os.listdir(os.path.join(ROOT, "roles"))} <= files
    assert {"plugins/modules/venv_switch.py", "roles/upgrade/tasks/main.yml", "playbooks/upgrade.yml"} <= files
    assert not [n for n in members if "__pycache__" in n or n.endswith(".pyc")]


def test_build_and_install(collection_tarball, tmp_path):
    dest = str(tmp_path / "collections")
    # only the new location: the working tree's link must neither satisfy nor shadow the install
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=dest)
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--force",
                    "-p", dest, collection_tarball], check=True, stdout=subprocess.PIPE, env=env)
    assert os.path.isfile(os.path.join(dest, "ansible_collections", "oxzep7", "python", "MANIFEST.json"))
    doc = subprocess.run([os.path.join(BIN, "ansible-doc"), "oxzep7.python.venv_rebuild"], env=env,
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert os.path.join(dest, "ansible_collections", "oxzep7", "python") in doc
    roles = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "role", "-l", "oxzep7.python"], env=env,
                           stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    assert "oxzep7.python.upgrade" in roles and "oxzep7.python.rollback" in roles
