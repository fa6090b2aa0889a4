# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Venv creation and installs with uv or pip, as argument lists.

Options follow the tools' own: ``--index-url``, ``--extra-index-url``,
``--find-links`` and ``--no-index`` mean the same to ``pip install`` and
``uv pip install`` (pip and uv documentation). ``isolated`` maps to pip's
``--isolated`` (ignore environment variables and user configuration) and uv's
``--no-config``.

Credentials never reach a command line, where any user of the host could read them
(``ps``): the ``user:password@`` part of each index and find-links URL is taken out of
the arguments and handed to the installer in a netrc file (mode 0600, in a private
temporary directory removed right after the command) named by ``NETRC``. pip reads it
through requests' ``get_netrc_auth`` (pip documentation, "Authentication": netrc
support), uv reads ``NETRC`` too (uv documentation, "Authentication").
"""

from __future__ import absolute_import, division, print_function

import os
import re
import tempfile

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    TIMEOUT_GATE, TIMEOUT_INSTALL, Oxzep7Error, module_which, remove_tree)
from ansible_collections.oxzep7.python.plugins.module_utils._lock import canonical_name
from ansible_collections.oxzep7.python.plugins.module_utils._venv import has_pip

try:
    from urllib.parse import unquote, urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2 is not a supported host
    from urlparse import urlsplit, urlunsplit  # type: ignore
    from urllib import unquote  # type: ignore

__metaclass__ = type

# The installer options of the modules that install or resolve (argument spec entries).
INSTALLER_SPEC = dict(
    installer=dict(type="str", default="auto", choices=["auto", "uv", "pip"]),
    uv_path=dict(type="path"),
    index_url=dict(type="str"),
    extra_index_urls=dict(type="list", elements="str", default=[]),
    find_links=dict(type="list", elements="str", default=[]),
    no_index=dict(type="bool", default=False),
    only_binary=dict(type="bool", default=False),
    isolated=dict(type="bool", default=False),
    link_mode=dict(type="str", choices=["clone", "copy", "hardlink", "symlink"]),
    environment=dict(type="dict", default={}),
)
INSTALLER_OPTION_NAMES = tuple(INSTALLER_SPEC)
_URL_OPTIONS = ("index_url", "extra_index_urls", "find_links")
# what a netrc token cannot hold without quoting, which pip's and uv's parsers read differently
_NETRC_UNSAFE = frozenset(" \t\r\n\"'\\#")


def split_credentials(url):
    """Split the ``user:password@`` part off a URL.

    :param url: an index or find-links URL, or a local path (str).
    :returns: ``(url without credentials, (host, login, password) or None)``; login and
        password are percent-decoded (RFC 3986 userinfo), host is the netloc's host part as
        netrc names it (without the port).
    :raises Oxzep7Error: when a login or password holds a character netrc cannot carry
        (whitespace, quotes, backslash, ``#``); the message names the host, never the secret.
    """
    if "://" not in (url or ""):
        return url, None
    parts = urlsplit(url)
    userinfo, sep, hostport = parts.netloc.rpartition("@")
    if not sep:
        return url, None
    login, _colon, password = userinfo.partition(":")
    login, password = unquote(login), unquote(password)
    if _NETRC_UNSAFE.intersection(login + password):
        raise Oxzep7Error("the credentials for %s hold whitespace, a quote, a backslash or '#', which a netrc "
                          "file cannot carry; use other credentials or a pip/uv configuration file" % parts.hostname)
    return urlunsplit(parts._replace(netloc=hostport)), (parts.hostname, login, password)


def installer_options(module):
    """The installer options (dict, :data:`INSTALLER_SPEC` keys) of an ``AnsibleModule``."""
    return dict((k, module.params.get(k)) for k in INSTALLER_OPTION_NAMES)


def module_installer(module):
    """The :class:`Installer` of an ``AnsibleModule``'s installer options, finding programs with its
    ``get_bin_path``."""
    return Installer(installer_options(module), module_which(module))


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
        self.credentials = {}
        for key in _URL_OPTIONS:
            value = opts[key]
            urls = [self._take_credentials(u) for u in (value if isinstance(value, list) else [value] if value else [])]
            opts[key] = urls if isinstance(value, list) else (urls[0] if urls else value)
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
        # uv and pip wrap their messages at COLUMNS when it is set (a terminal's 80, say); one
        # message per line is what explain_failure reads and what a report shows
        self.env.setdefault("COLUMNS", "1000")
        if self.name == "uv":
            self.env.setdefault("UV_PYTHON_DOWNLOADS", "never")

    def _take_credentials(self, url):
        bare, creds = split_credentials(url)
        if creds:
            host, login, password = creds
            if self.credentials.get(host, (login, password)) != (login, password):
                raise Oxzep7Error("two different credentials for %s: a netrc file holds one per host" % host)
            self.credentials[host] = (login, password)
        return bare

    def run(self, runner, argv, env=None, **kwargs):
        """Run an installer command with this installer's environment and credentials.

        :param runner: a ``_common.Runner``.
        :param argv: the command (list of str), with URLs from :meth:`index_args` (no credentials).
        :param env: more variables (dict), over this installer's ``environment``.
        :param kwargs: passed to ``Runner.run`` (``what``, ``check``, ``cwd``...).
        :returns: the ``CommandResult``.
        :raises Oxzep7Error: as ``Runner.run`` does.
        """
        environ = dict(self.env)
        environ.update(env or {})
        if not self.credentials:
            return runner.run(argv, env=environ, **kwargs)
        private = tempfile.mkdtemp(prefix="oxzep7-netrc-")
        try:
            path = os.path.join(private, "netrc")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                for host in sorted(self.credentials):
                    fh.write("machine %s login %s password %s\n" % ((host,) + self.credentials[host]))
            environ["NETRC"] = path
            return runner.run(argv, env=environ, **kwargs)
        finally:
            remove_tree(private, os.path.dirname(private))

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
        return self.run(runner, argv, what="creating venv %s" % dest, timeout=TIMEOUT_INSTALL)

    def install(self, runner, python, requirements_file):
        """Install a requirements file into the venv of ``python``; return the CommandResult."""
        if self.name == "uv":
            argv = [self.uv, "pip", "install", "--python", python, "-r", requirements_file]
            if self.options["link_mode"]:
                argv += ["--link-mode", self.options["link_mode"]]
        else:
            argv = [python, "-m", "pip", "install", "-r", requirements_file]
        return self.run(runner, argv + self.index_args(), what="installing the lock with %s" % self.name,
                        timeout=TIMEOUT_INSTALL)

    def check(self, runner, python, env=None):
        """Check the installed distributions of the venv of ``python`` against their requirements.

        ``uv pip check --python PYTHON`` when uv is the installer, else ``PYTHON -m pip check``.
        Both exit 0 when every requirement is met and 1 otherwise, with one line per problem
        (pip documentation, "pip check"; uv's ``pip check`` command, which prints them on stderr).

        :param env: more variables for the command (dict), e.g. ``PYTHONDONTWRITEBYTECODE``.
        :returns: ``(CommandResult, problems)``: problems as :func:`check_problems` reads them
            from the output; never raises on the exit status.
        :raises Oxzep7Error: when uv is not the installer and the venv has no pip.
        """
        if self.uv:
            argv = [self.uv, "pip", "check", "--python", python]
        elif has_pip(runner, python):
            argv = [python, "-m", "pip", "check", "--disable-pip-version-check"]
        else:
            raise Oxzep7Error("%s has no pip and uv is not the installer: nothing can check its requirements" % python)
        result = self.run(runner, argv, env=env, check=False, what="the dependency check", timeout=TIMEOUT_GATE)
        return result, check_problems(result.stdout + "\n" + result.stderr)


# One line per broken requirement, read from the real output of pip 23 to 26 and uv 0.13:
#   pip: "flask 3.0.0 requires click, which is not installed."
#        "flask 3.0.0 has requirement click>=8.1.3, but you have click 7.0."
#        "numpy 1.26.4 is not supported on this platform"
#   uv:  "The package `flask` requires `click>=8.1.3`, but it's not installed"
#        "The package `flask` requires `click>=8.1.3`, but `7.0` is installed"
_CHECK_LINE = (re.compile(r"^The package `(?P<name>[^`]+)` (?:requires `(?P<req>[^`]+)`)?"),  # uv
               re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) \S+ (?:requires (?P<req>.+), which is not installed|"
                          r"has requirement (?P<req2>.+), but you have|is not supported)"))  # pip


def check_problems(output):
    """The broken requirements that ``pip check`` or ``uv pip check`` printed.

    :param output: the command's stdout and stderr (str).
    :returns: list of dicts: ``name`` (the distribution whose requirement is broken, as the tool
        printed it), ``requirement`` (the requirement, or None when the line names none) and
        ``message`` (the line).
    """
    problems = []
    for line in output.splitlines():
        line = line.strip()
        for pattern in _CHECK_LINE:
            match = pattern.match(line)
            if match:
                found = match.groupdict()
                problems.append(dict(name=found["name"], requirement=found.get("req") or found.get("req2"),
                                     message=line))
                break
    return problems


# What pip (23 to 26) and uv (0.4 to 0.13) print when an install fails, read from their real
# output (tests/unit/plugins/module_utils/test__installer.py runs them).
_BUILD_FAILED = (re.compile(r"Failed to (?:download and )?build `([^`]+)`"),  # uv
                 re.compile(r"Failed to build '([^']+)'"),  # pip 25 and later
                 re.compile(r"Failed building wheel for (\S+)"))  # pip
_PIP_PREPARING = re.compile(r"^(?:Collecting|Processing) (\S+)")  # the build a pip 23/24 error does not name
_PIP_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
_PIP_UNREACHABLE = re.compile(r"Retrying \(Retry\(|Could not fetch URL")  # then "no matching" says nothing of builds
_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*==[^\s,;`]+)")
_COMPILER_ERROR = re.compile(r"^\S+:\d+(?::\d+)?: (?:fatal )?error: ", re.I)
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit): ")
_INSTALLER_NOISE = re.compile(r"subprocess-exited-with-error|failed-wheel-build|Failed to (?:download and )?build|"
                              r"No solution found")


def explain_failure(stdout, stderr, pins, tag):
    """Name the package that made a failed ``pip install`` or ``uv pip install`` fail, and why.

    :param stdout: the installer's standard output (str).
    :param stderr: its standard error (str).
    :param pins: the lock entries being installed (dicts with ``name`` and ``version``), to
        give the version of a package that the installer names without one.
    :param tag: the target interpreter's tag, e.g. ``cp312``.
    :returns: ``None`` when the output names no package (or pip could not read an index: its
        "no matching distribution" then says nothing about builds), else a dict with ``kind`` (``build``:
        the package's build failed; ``no_build``: no file of the pin installs on the target),
        ``name``, ``version`` (None when unknown), ``line`` (the error line: the compiler's
        first error, else the build's last exception, else its last ``error:`` line) and
        ``reason``: ``building NAME==VERSION for TAG failed: LINE`` or
        ``no build of NAME==VERSION for TAG: LINE``.
    """
    lines = [ln.strip() for ln in (stdout + "\n" + stderr).splitlines() if ln.strip()]
    found = _search(_BUILD_FAILED, lines)
    if found is None and any("did not run successfully" in ln for ln in lines):
        found = ([m.group(1) for m in map(_PIP_PREPARING.match, lines) if m] or [None])[-1]
    if found is not None:
        kind = "build"
        line = (_first(_COMPILER_ERROR, lines) or _first(_EXCEPTION, lines[::-1])
                or next((ln for ln in lines[::-1] if ln.lower().startswith("error:")
                         and not _INSTALLER_NOISE.search(ln)), None)
                or (stderr.strip().splitlines() or [""])[-1].strip())
    else:
        kind = "no_build"
        found = _search((_PIP_NO_MATCH,), lines)
        line = next((ln[len("ERROR: "):] for ln in lines if ln.startswith("ERROR: Could not find a version")), None)
        if any("No solution found when resolving dependencies" in ln for ln in lines):  # uv
            line = next((ln[ln.index("Because "):] for ln in lines if "Because " in ln), None)
            names = set(canonical_name(p["name"]) for p in pins)
            found = next((m for m in _PIN.findall(line or "") if canonical_name(m.split("==")[0]) in names), None)
        if found is None or line is None or _first(_PIP_UNREACHABLE, lines):
            return None
    name, version = _pin_of(found, pins)
    what = "%s==%s" % (name, version) if version else name
    reason = ("building %s for %s failed: %s" if kind == "build" else "no build of %s for %s: %s") % (what, tag, line)
    return dict(kind=kind, name=name, version=version, line=line, reason=reason)


def _search(patterns, lines):
    for line in lines:
        for pattern in patterns:
            match = pattern.search(line)
            if match:
                return match.group(1)
    return None


def _first(pattern, lines):
    return next((ln for ln in lines if pattern.search(ln)), None)


def _pin_of(found, pins):
    """``(name, version)`` for what an installer named: ``name==version``, a name, or a file name."""
    if "==" in found:
        name, version = found.split("==", 1)
        return name, version
    key = canonical_name(os.path.basename(found))
    for pin in pins:
        name, version = canonical_name(pin["name"]), pin.get("version")
        if key == name or (version and key.startswith("%s-%s" % (name, canonical_name(version)))):
            return pin["name"], version
    return found, None
