"""Execution environments: meta/execution-environment.yml declares every package the controller-side
plugins import, and ansible-builder turns the example docs/execution-environment.yml into a build
context that installs the collection and, through it, those packages."""

import ast
import glob
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from support import BIN, ROOT

PREFIX = "ansible_collections.oxzep7.python."
# What runs on the controller, and so in the EE: action, callback and filter plugins, and the
# playbooks' callback shim. The plugin_utils and module_utils they import are followed from there.
CONTROLLER_SIDE = ["plugins/action/*.py", "plugins/callback/*.py", "plugins/filter/*.py",
                   "playbooks/callback_plugins/*.py"]


def ee_requirements():
    """Return the canonical names of the Python requirements meta/execution-environment.yml names."""
    with open(os.path.join(ROOT, "meta", "execution-environment.yml")) as fh:
        ee = yaml.safe_load(fh)
    assert ee["version"] == 1 and "system" not in ee["dependencies"]
    with open(os.path.join(ROOT, ee["dependencies"]["python"])) as fh:
        return {canonicalize_name(Requirement(line).name) for line in (raw.strip() for raw in fh)
                if line and not line.startswith("#")}


def imports_of(path, in_functions):
    """Yield the absolute names a Python file imports (modules, and for ``from M import N`` also ``M.N``).

    Fallbacks in ``except`` blocks are left out, and with ``in_functions`` false so are the imports
    inside functions (module_utils: what their functions import runs on the hosts).
    """
    with open(path) as fh:
        tree = ast.parse(fh.read(), path)
    skipped = (ast.ExceptHandler,) + (() if in_functions else (ast.FunctionDef, ast.AsyncFunctionDef))
    skip = {id(node) for block in ast.walk(tree) if isinstance(block, skipped) for node in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            # a name imported from a package may be a module of it
            yield node.module
            for alias in node.names:
                yield node.module + "." + alias.name


def controller_imports():
    """Return the top-level modules the controller side imports, through the collection's own modules."""
    todo = [path for pattern in CONTROLLER_SIDE for path in glob.glob(os.path.join(ROOT, pattern))]
    seen, found = set(), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imports_of(path, in_functions=os.sep + "module_utils" + os.sep not in path):
            if name.startswith(PREFIX):
                module = os.path.join(ROOT, *name[len(PREFIX):].split(".")) + ".py"
                todo.extend([module] if os.path.isfile(module) else [])
            else:
                found.add(name.split(".")[0])
    return found - {"__future__", "ansible", "ansible_collections"}


def test_ee_requirements_name_every_package_the_controller_side_imports():
    imported = controller_imports()
    distributions = importlib.metadata.packages_distributions()
    third_party = {canonicalize_name(distributions.get(name, [name])[0])
                   for name in imported - sys.stdlib_module_names}
    # the scan sees the fleet report's jinja2 and the windows file's yaml
    assert {"jinja2", "pyyaml"} <= third_party
    assert not third_party - ee_requirements(), "meta/ee-requirements.txt lacks them"
    # maintenance_window reads IANA zones with zoneinfo: without /usr/share/zoneinfo it needs tzdata
    assert "zoneinfo" in imported and "tzdata" in ee_requirements()


def test_ansible_builder_creates_a_context_that_installs_the_collection(collection_tarball, tmp_path):
    # the example sits beside the tarball, as its comment says
    shutil.copy(os.path.join(ROOT, "docs", "execution-environment.yml"), str(tmp_path))
    shutil.copy(collection_tarball, str(tmp_path))
    tarball = os.path.basename(collection_tarball)
    created = subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "-f", "execution-environment.yml",
                              "-c", "context"], cwd=str(tmp_path), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)
    assert created.returncode == 0 and "WARNING" not in created.stdout, created.stdout
    build = tmp_path / "context" / "_build"
    # the tarball galaxy.yml's version builds is the one the example copies into the context
    with open(str(build / "collections" / tarball), "rb") as copied, open(collection_tarball, "rb") as built:
        assert copied.read() == built.read()
    with open(str(build / "requirements.yml")) as fh:
        assert yaml.safe_load(fh)["collections"] == [{"name": "collections/" + tarball, "type": "file"}]
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert "COPY _build /build\nWORKDIR /build\n" in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" \
        in containerfile
    # The galaxy stage: its install command, run in the context as the Containerfile runs it, offline.
    collections = str(tmp_path / "ee-collections")
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-r",
                    "requirements.yml", "-p", collections], cwd=str(build), check=True, stdout=subprocess.PIPE,
                   env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections))
    assert os.path.isfile(os.path.join(collections, "ansible_collections", "oxzep7", "python", "MANIFEST.json"))
    # The builder stage: the context's own introspect script finds the collection's Python requirements.
    pip = tmp_path / "requirements.txt"
    subprocess.run([sys.executable, str(build / "scripts" / "introspect.py"), "introspect", "--write-pip", str(pip),
                    collections], check=True, stdout=subprocess.PIPE, timeout=120)
    from_collection = {canonicalize_name(m.group(1)) for m in
                       re.finditer(r"^(\S+)\s+# from collection oxzep7\.python$", pip.read_text(), re.M)}
    assert "tzdata" in from_collection and from_collection <= ee_requirements()
