# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Venv creation and installs with uv or pip, as argument lists.

Options follow the tools' own: ``--index-url``, ``--extra-index-url``,
``--find-links`` and ``--no-index`` mean the same to ``pip install`` and
``uv pip install`` (pip and uv documentation). ``isolated`` maps to pip's
``--isolated`` (ignore environment variables and user configuration) and uv's
``--no-config``.
"""

from __future__ import absolute_import, division, print_function

import os

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    TIMEOUT_GATE, TIMEOUT_INSTALL, Oxzep7Error)

__metaclass__ = type

INSTALLER_OPTION_NAMES = ("installer", "uv_path", "index_url", "extra_index_urls", "find_links",
                          "no_index", "only_binary", "isolated", "environment", "link_mode")


class Installer:
    """One installer (uv or pip) with the index options of a run.

    :param options: dict with the keys of ``INSTALLER_OPTION_NAMES`` (missing ones
        take their defaults: installer ``auto``, no index options).
    :param which: callable ``name -> path or None`` used to find ``uv`` on PATH
        (``AnsibleModule.get_bin_path`` or ``shutil.which``).
    :raises Oxzep7Error: when uv is asked for and cannot be found.
    """

    def __init__(self, options, which):
        opts = dict((k, options.get(k)) for k in INSTALLER_OPTION_NAMES)
        self.options = opts
        wanted = opts["installer"] or "auto"
        if wanted not in ("auto", "uv", "pip"):
            raise Oxzep7Error("installer must be auto, uv or pip, not %r" % wanted)
        uv = opts["uv_path"] or which("uv")
        if opts["uv_path"] and not os.access(opts["uv_path"], os.X_OK):
            raise Oxzep7Error("uv_path %s is not an executable file" % opts["uv_path"])
        if wanted == "uv" and not uv:
            raise Oxzep7Error("installer uv was asked for but uv is not on PATH; set uv_path "
                              "or use installer: pip")
        self.name = "uv" if wanted == "uv" or (wanted == "auto" and uv) else "pip"
        self.uv = uv if self.name == "uv" else None
        self.env = dict((str(k), str(v)) for k, v in (opts["environment"] or {}).items())
        if self.name == "uv":
            self.env.setdefault("UV_PYTHON_DOWNLOADS", "never")

    def index_args(self):
        """Return the index and isolation arguments (list of str) for this installer."""
        o = self.options
        args = ["--no-config"] if self.name == "uv" and o["isolated"] else []
        if self.name == "pip":
            args += ["--disable-pip-version-check", "--no-input"]
            if o["isolated"]:
                args.append("--isolated")
        if o["no_index"]:
            args.append("--no-index")
        elif o["index_url"]:
            args += ["--index-url", o["index_url"]]
        if not o["no_index"]:
            for url in o["extra_index_urls"] or []:
                args += ["--extra-index-url", url]
        for link in o["find_links"] or []:
            args += ["--find-links", link]
        if o["only_binary"]:
            args += ["--only-binary", ":all:"]
        return args

    def create_venv(self, runner, interpreter, dest, seed):
        """Create an empty venv at ``dest`` with ``interpreter``; with ``seed``, it has pip.

        uv: ``uv venv --python INTERPRETER [--seed] DEST``; pip:
        ``INTERPRETER -m venv [--without-pip] DEST`` (ensurepip brings pip offline).
        """
        if self.name == "uv":
            argv = [self.uv, "venv", "--python", interpreter, "--no-project"]
            if seed:
                argv.append("--seed")
            argv += [a for a in self.index_args() if a not in ("--only-binary", ":all:")] + [dest]
        else:
            argv = [interpreter, "-m", "venv"] + ([] if seed else ["--without-pip"]) + [dest]
        return runner.run(argv, env=self.env, what="creating venv %s" % dest, timeout=TIMEOUT_INSTALL)

    def install(self, runner, python, requirements_file):
        """Install a requirements file into the venv of ``python``; return the CommandResult."""
        if self.name == "uv":
            argv = [self.uv, "pip", "install", "--python", python, "-r", requirements_file]
            if self.options["link_mode"]:
                argv += ["--link-mode", self.options["link_mode"]]
        else:
            argv = [python, "-m", "pip", "install", "-r", requirements_file]
        return runner.run(argv + self.index_args(), env=self.env,
                          what="installing the lock with %s" % self.name, timeout=TIMEOUT_INSTALL)

    def check(self, runner, python, has_pip):
        """Run ``pip check`` (or ``uv pip check``) for the venv of ``python``; never raises on rc."""
        if has_pip:
            argv = [python, "-m", "pip", "check", "--disable-pip-version-check"]
        elif self.uv:
            argv = [self.uv, "pip", "check", "--python", python]
        else:
            raise Oxzep7Error("%s has no pip and uv is not available for the dependency check" % python)
        return runner.run(argv, env=dict(self.env, PYTHONDONTWRITEBYTECODE="1"), check=False,
                          what="the dependency check", timeout=TIMEOUT_GATE)


def has_pip(runner, python):
    """Tell whether ``python -m pip`` works in that venv (bool)."""
    return runner.run([python, "-I", "-B", "-c", "import pip"], check=False,
                      env={"PYTHONDONTWRITEBYTECODE": "1"}).rc == 0


def pip_freeze_and_inspect(runner, python):
    """Return ``(freeze_text, inspect_json_text)`` from the venv's own pip.

    ``pip freeze --all`` and ``pip inspect`` (pip 22.2 and later); each is None when
    the venv has no pip or the pip is too old for it.
    """
    freeze = runner.run([python, "-m", "pip", "freeze", "--all", "--disable-pip-version-check"],
                        check=False, env={"PYTHONDONTWRITEBYTECODE": "1"})
    if freeze.rc != 0:
        return None, None
    inspect = runner.run([python, "-m", "pip", "inspect", "--disable-pip-version-check"],
                         check=False, env={"PYTHONDONTWRITEBYTECODE": "1"})
    return freeze.stdout, inspect.stdout if inspect.rc == 0 else None
