# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight checks beyond the packages (the ``venv_preflight`` module).

- the app's own code: vermin's minimum Python version and imports of standard library
  modules the target no longer has (``_probe.check_code``, with vermin and stdlib-list
  installed by pip into a temporary directory from the configured index);
- hard-coded references to the old interpreter outside the venv (unit files, cron,
  environment files, shebangs), each with file and line;
- free disk for one more release beside the live one and one more snapshot.

Every finding is a dict with ``check``, ``target``, ``message`` and details, and is
either an inhibitor or a warning, in the same shape as ``_compat.assess`` returns.
:func:`sort_findings` joins them with the package findings of ``compat_check`` and
applies the allowlist, for every kind of finding: the venv's whole verdict.
"""

from __future__ import absolute_import, division, print_function

import fnmatch
import os
import re
import tempfile

from ansible_collections.oxzep7.python.plugins.module_utils._common import TIMEOUT_INSTALL, Oxzep7Error, remove_tree
from ansible_collections.oxzep7.python.plugins.module_utils._compat import run_probe
from ansible_collections.oxzep7.python.plugins.module_utils._installer import Installer
from ansible_collections.oxzep7.python.plugins.module_utils._lock import canonical_name
from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import list_snapshots
from ansible_collections.oxzep7.python.plugins.module_utils._venv import tree_size

__metaclass__ = type

# Where services, timers and scheduled jobs usually name an interpreter.
DEFAULT_REFERENCE_PATHS = ("/etc/systemd/system", "/etc/cron.d", "/etc/crontab", "/var/spool/cron/crontabs",
                           "/etc/default", "/etc/sysconfig", "/etc/environment", "/etc/supervisor/conf.d")
MAX_SCANNED_BYTES = 1024 * 1024  # larger files are not read by the reference scan
TOOLS = ("vermin", "stdlib-list")


def install_tools(runner, python, installer, dest, requirements=TOOLS):
    """Install the code-scan tools with the venv's pip into ``dest`` (``pip install --target``).

    :raises Oxzep7Error: when pip cannot install them (the index lacks them, say).
    """
    argv = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:", "--target", dest]
    installer.run(runner, argv + installer.index_args() + list(requirements),
                  what="installing the code-scan tools (%s) from the index" % ", ".join(requirements),
                  timeout=TIMEOUT_INSTALL)


def lists_between(current, targets):
    """The versions whose standard library lists the code scan reads: ``targets`` and every
    minor version between ``current`` and the newest target (list of "X.Y", ascending).

    A module removed in a version between the two is missing from every later one too, so a
    target stdlib-list has no list for still gets the removals of the versions before it.

    :param current: the venv's Python version, "X.Y[.Z]".
    :param targets: "X.Y[.Z]" strings.
    """
    major, minor = _key(current)[:2]
    newest = max([_key(t)[:2] for t in targets] + [(major, minor)])
    between = ["%d.%d" % (major, m) for m in range(minor + 1, newest[1] + 1)] if newest[0] == major else []
    return sorted(set(list(targets) + between), key=_key)


def scan_code(runner, python, paths, targets, installer_options, which, tool_requirements=TOOLS, current=None):
    """Scan the app's source ``paths`` for each of ``targets`` (sorted "X.Y" strings).

    The standard library lists of every version from ``current`` (the venv's "X.Y.Z", when given)
    to the newest target are read (:func:`lists_between`), whichever targets were asked for. A
    target the installed stdlib-list has no list for gets a ``code_removed_unknown`` inhibitor:
    the modules removed in it could not be checked (allowlist it to accept that).

    :returns: ``(findings, summary)``: findings are inhibitors (code needing a newer
        Python than a target; an unguarded import of a module the target removed; a target
        with no module list) and warnings (a guarded import of a removed module; files that
        do not parse);
        summary is the probe's answer (files, minimum, removed, syntax_errors).
    :raises Oxzep7Error: on a missing path or tools that cannot be installed.
    """
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise Oxzep7Error("code_paths do not exist: %s" % ", ".join(missing))
    installer = Installer(dict(installer_options, installer="pip"), which)
    tools = tempfile.mkdtemp(prefix="oxzep7-tools-")
    try:
        install_tools(runner, python, installer, tools, tool_requirements)
        scanned = lists_between(current, targets) if current else list(targets)
        summary = run_probe(runner, python, "code", dict(paths=list(paths), targets=scanned, tools=tools))
    finally:
        remove_tree(tools, os.path.dirname(tools))
    findings = []
    minimum = summary.get("minimum")
    files = sorted(set(line.rsplit(":", 5)[0] for line in summary["minimum_detail"]))
    for target in targets:
        if minimum and _key(minimum) > _key(target):
            findings.append(dict(severity="inhibitor", check="code_minimum", target=target, minimum=minimum,
                                 detail=summary["minimum_detail"], files=files,
                                 message="the code needs Python %s or later (vermin), newer than %s" % (minimum, target)))
    for item in summary["removed"]:
        for target in [t for t in targets if _key(t) >= _key(item["target"])]:
            findings.append(dict(
                item, severity="warning" if item["guarded"] else "inhibitor", check="removed_module", target=target,
                message="%s:%s imports %s, which the standard library of %s no longer has%s" % (
                    item["file"], item["line"], item["module"], target,
                    " (inside a try that catches ImportError)" if item["guarded"] else "")))
    for target in [t for t in summary["unknown_targets"] if t in targets]:
        findings.append(dict(severity="inhibitor", check="code_removed_unknown", target=target, message=(
            "the stdlib-list release this interpreter can install has no module list for %s: imports of "
            "modules removed in %s were not checked (allowlist code_removed_unknown to accept that)"
            % (target, target))))
    for item in summary["syntax_errors"]:
        findings += [dict(item, severity="warning", check="code_syntax", target=t,
                          message="%s does not parse with the current interpreter: %s" % (item["file"], item["error"]))
                     for t in targets]
    return findings, summary


def _key(version):
    return tuple(int(p) for p in version.split("."))


def reference_needles(python_facts, layout):
    """The strings that betray a hard-coded old interpreter: list of ``(kind, regex)``.

    - ``base_interpreter``: the base installation the venv was made from (its prefix);
    - ``versioned_name``: ``pythonX.Y`` of the old version (``/usr/bin/python3.9``, ``lib/python3.9``);
    - ``release_path``: the live release directory instead of the stable path.
    """
    major, minor = python_facts["version"].split(".")[:2]
    needles = [("versioned_name", re.compile(r"python%s\.%s(?![0-9])" % (major, minor)))]
    base = python_facts.get("base_prefix")
    if base and base not in ("/usr", "/usr/local", "/"):
        needles.insert(0, ("base_interpreter", re.compile(re.escape(base.rstrip("/")) + r"(?![\w.-])")))
    current = layout.current_release()
    if current:
        needles.append(("release_path", re.compile(re.escape(os.path.join(layout.releases_dir, current)))))
    return needles


def _text_files(paths, skip):
    for path in paths:
        if os.path.isfile(path):
            candidates = [path]
        elif os.path.isdir(path):
            candidates = []
            for top, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if os.path.join(top, d) not in skip)
                candidates += [os.path.join(top, f) for f in sorted(files)]
        else:
            continue
        for candidate in candidates:
            if not os.path.isfile(candidate) or os.path.getsize(candidate) > MAX_SCANNED_BYTES:
                continue
            try:
                with open(candidate, "rb") as fh:
                    data = fh.read()
            except (IOError, OSError):
                continue
            if b"\0" not in data[:8192]:
                yield candidate, data.decode("utf-8", "replace")


def scan_references(paths, needles, skip=()):
    """Lines in text files under ``paths`` that match one of ``needles``.

    :param paths: files or directories; missing ones are ignored (defaults differ by distribution).
    :param skip: directories not entered (the venv and its releases reference themselves).
    :returns: list of dicts: file, line (1-based), kind, text (the line, at most 200 characters).
    """
    found = []
    for path, text in _text_files(paths, set(skip)):
        for number, line in enumerate(text.splitlines(), 1):
            for kind, needle in needles:
                if needle.search(line):
                    found.append(dict(file=path, line=number, kind=kind, text=line.strip()[:200]))
                    break
    return found


def _existing(path):
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def check_disk(layout, live_size, backup_dir):
    """Free space for one more release of ``live_size`` bytes and one more snapshot.

    The snapshot is counted at the size of the newest snapshot of this venv, or at the
    release size when there is none (an archive is never larger than its tree by much).

    :returns: dict with ``release_bytes``, ``snapshot_bytes``, ``free_bytes`` (per
        checked directory), ``needed_bytes`` (per directory; both on one file system
        add up) and ``ok``.
    """
    snapshots = list_snapshots(backup_dir, layout.stable)
    archive = snapshots[-1].get("archive_bytes") if snapshots else None
    snapshot_bytes = int(archive or live_size)
    venv_dir, backup = _existing(layout.parent), _existing(backup_dir)
    needs = {venv_dir: live_size}
    if os.stat(venv_dir).st_dev == os.stat(backup).st_dev:
        needs[venv_dir] += snapshot_bytes
    else:
        needs[backup] = snapshot_bytes
    free = {}
    for directory in needs:
        st = os.statvfs(directory)
        free[directory] = st.f_bavail * st.f_frsize
    return dict(release_bytes=live_size, snapshot_bytes=snapshot_bytes, free_bytes=free, needed_bytes=needs,
                ok=all(free[d] >= needs[d] for d in needs))


# The keys of an allowlist rule that select findings; ``reason`` says why they are accepted.
ALLOWLIST_KEYS = ("check", "name", "version", "target", "module", "file")


def accepts(rule, finding):
    """Whether the allowlist ``rule`` accepts ``finding``.

    Every key the rule sets must match; keys it leaves out (or empty) match anything:
    ``check``, ``version``, ``target`` and ``module`` (a removed module's top-level name)
    are compared as they are, ``name`` as a normalized project name (PEP 503), and ``file``
    is a glob (``fnmatch``: ``*`` also matches ``/``) that the finding's file must match
    (for ``code_minimum``, every file vermin named for the minimum). A rule with ``file``
    never accepts a finding that has no file.

    :param rule: dict with some of :data:`ALLOWLIST_KEYS` and ``reason``.
    :param finding: dict as the checks return it.
    :returns: bool.
    """
    for key in ("check", "version", "target", "module"):
        if rule.get(key) not in (None, "") and rule[key] != finding.get(key):
            return False
    if rule.get("name") and canonical_name(rule["name"]) != canonical_name(finding.get("name") or ""):
        return False
    if rule.get("file"):
        files = finding.get("files") or ([finding["file"]] if finding.get("file") else [])
        return bool(files) and all(fnmatch.fnmatchcase(f, rule["file"]) for f in files)
    return True


def sort_findings(findings, allowlist, packages=None, targets=None):
    """The verdict of one venv: its findings sorted into inhibitors, warnings and allowlisted.

    :param findings: dicts with ``severity`` (``inhibitor`` or ``warning``) and the finding's keys.
    :param allowlist: rules (see :func:`accepts`); an inhibitor one of them accepts is
        allowlisted instead, with the rule's reason as ``allowlist_reason``.
    :param packages: the result of ``compat_check`` for the venv, or None; its
        ``inhibitors``, ``cautions`` and ``accepted`` findings for ``targets`` join these.
    :param targets: the targets that count (list of str).
    :returns: ``(inhibitors, warnings, allowlisted)``, lists of finding dicts without ``severity``.
    """
    packages = packages or {}
    ours = list(findings)
    for key, severity in (("inhibitors", "inhibitor"), ("cautions", "warning")):
        ours += [dict(f, severity=severity) for f in packages.get(key) or [] if f.get("target") in targets]
    inhibitors, warnings = [], []
    allowlisted = [f for f in packages.get("accepted") or [] if f.get("target") in targets]
    for finding in ours:
        item = dict((k, v) for k, v in finding.items() if k != "severity")
        rule = next((r for r in allowlist if accepts(r, item)), None) if finding["severity"] == "inhibitor" else None
        if rule:
            allowlisted.append(dict(item, allowlist_reason=rule["reason"]))
        else:
            (inhibitors if finding["severity"] == "inhibitor" else warnings).append(item)
    return inhibitors, warnings, allowlisted


def check_venv(runner, layout, python, facts, targets, params, installer_options, which, packages=None):
    """The code, references and disk of the live venv for ``targets``, joined with the package findings.

    :param python: the live venv's interpreter (str).
    :param facts: its ``python`` facts (``_venv.inspect_python()["python"]``).
    :param targets: sorted list of "X.Y".
    :param params: ``code_paths``, ``tools``, ``reference_paths``, ``check_disk``, ``backup_dir`` and
        ``allowlist`` (the ``venv_preflight`` options).
    :param packages: the package check (``_compat.check`` or a ``compat_check`` result) or None.
    :returns: dict with ``size_bytes``, ``code`` (see :func:`scan_code`, or None), ``references``
        (see :func:`scan_references`), ``disk`` (see :func:`check_disk`, or None) and what
        :func:`sort_findings` returns as ``inhibitors``, ``cautions`` and ``allowlisted``.
    :raises Oxzep7Error: as :func:`scan_code` does.
    """
    findings, code = [], None
    if params["code_paths"]:
        found, code = scan_code(runner, python, params["code_paths"], targets, installer_options, which,
                                params["tools"], current=facts["version"])
        findings += found
    skip = [layout.stable, layout.releases_dir, os.path.realpath(layout.stable)]
    references = scan_references(params["reference_paths"], reference_needles(facts, layout), skip)
    findings += [dict(ref, severity="warning", check="reference", target=t, message="%s:%s names the old "
                      "interpreter (%s): %s" % (ref["file"], ref["line"], ref["kind"], ref["text"]))
                 for ref in references for t in targets]
    size = tree_size(layout.live_path())
    disk = check_disk(layout, size, params["backup_dir"]) if params["check_disk"] else None
    if disk and not disk["ok"]:
        findings += [dict(severity="inhibitor", check="disk", target=t, message="not enough free disk: %s" % "; ".join(
            "%s has %d bytes free, needs %d" % (d, disk["free_bytes"][d], disk["needed_bytes"][d])
            for d in sorted(disk["needed_bytes"]))) for t in targets]
    inhibitors, warnings, allowlisted = sort_findings(findings, params["allowlist"], packages, targets)
    return dict(size_bytes=size, code=code, references=references, disk=disk, inhibitors=inhibitors,
                cautions=warnings, allowlisted=allowlisted)
