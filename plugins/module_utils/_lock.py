# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lock: exact pins of everything installed in a venv, as a requirements file.

Each line is something pip and uv accept (``-r lock.txt``), followed by a comment
that names the distribution, so editable and URL lines keep their name::

    flask==3.0.0  # oxzep7: name=Flask version=3.0.0 kind=pin
    demo @ file:///srv/app/src  # oxzep7: name=demo version=1.0 kind=dir
    -e file:///srv/app/tool  # oxzep7: name=tool version=0.1 kind=editable

pip and uv treat whitespace followed by ``#`` as the start of a comment (pip's
"Requirements File Format" documentation). Direct-URL, VCS and editable installs
are read from ``direct_url.json`` as PEP 610 defines it.
"""

from __future__ import absolute_import, division, print_function

import os
import re

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error, redact

try:
    from packaging.utils import canonicalize_name as _canonicalize
    from packaging.version import InvalidVersion, Version as _Version
except ImportError:  # the managed host may lack packaging; the rules are PEP 503's and 440's
    _canonicalize = _Version = None
    InvalidVersion = ValueError

__metaclass__ = type

# Installed by venv creation itself (ensurepip, uv venv --seed), not by the app.
SEED_PACKAGES = ("pip", "setuptools", "wheel", "distribute")
_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_TAG = re.compile(r"\s+#\s*oxzep7:\s*(.*)$")


def canonical_name(name):
    """Return the normalized project name (PEP 503): lower case, runs of ``-_.`` as ``-``."""
    if _canonicalize is not None:
        return str(_canonicalize(name))
    return re.sub(r"[-_.]+", "-", name).lower()


def _url_path(url):
    return url[len("file://"):] if url.startswith("file://") else None


def entry_for(dist):
    """Return the lock entry (dict) of one installed distribution.

    :param dist: a distribution dict from ``_venv.inspect_python``.
    :returns: dict with ``name``, ``version``, ``kind`` (pin, vcs, url, dir or
        editable), ``line`` (the requirement line without comment), ``local_path``
        (str or None: a file:// source that must exist to reinstall) and ``seed`` (bool).
    """
    name, version = dist["name"], dist["version"]
    direct = dist.get("direct_url") or {}
    url = direct.get("url")
    kind, line, local = "pin", "%s==%s" % (name, version), None
    if url:
        local = _url_path(url)
        if "vcs_info" in direct:
            vcs = direct["vcs_info"]
            kind = "vcs"
            line = "%s @ %s+%s@%s" % (name, vcs["vcs"], url, vcs.get("commit_id") or vcs.get("requested_revision"))
        elif direct.get("dir_info", {}).get("editable"):
            kind, line = "editable", "-e %s" % url
        elif "dir_info" in direct:
            kind, line = "dir", "%s @ %s" % (name, url)
        else:
            kind, line = "url", "%s @ %s" % (name, url)
            hashes = direct.get("archive_info", {}).get("hashes") or {}
            if "sha256" in hashes:
                line += "#sha256=%s" % hashes["sha256"]
        if direct.get("subdirectory"):
            line += "%ssubdirectory=%s" % ("&" if "#" in line else "#", direct["subdirectory"])
    return dict(name=name, version=version, kind=kind, line=line, local_path=local,
                seed=canonical_name(name) in SEED_PACKAGES)


def build_lock(dists):
    """Return lock entries for ``dists`` (list of distribution dicts), sorted by name."""
    return sorted((entry_for(d) for d in dists), key=lambda e: canonical_name(e["name"]))


def render_lock(entries, header=()):
    """Return the text of a lock file: ``header`` comment lines, then one line per entry."""
    lines = ["# %s" % h for h in header]
    for e in entries:
        lines.append("%s  # oxzep7: name=%s version=%s kind=%s" % (e["line"], e["name"], e["version"], e["kind"]))
    return "\n".join(lines) + "\n"


def parse_lock(text):
    """Parse a lock file (ours, or any plain ``name==version`` requirements file).

    :returns: list of entry dicts like :func:`entry_for` gives.
    :raises Oxzep7Error: on a line whose project name cannot be told.
    """
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        tag = _TAG.search(raw)
        fields = dict(f.split("=", 1) for f in tag.group(1).split() if "=" in f) if tag else {}
        line = raw[:tag.start()].strip() if tag else re.sub(r"\s+#.*$", "", stripped)
        if line.startswith("-") and "name" not in fields:
            raise Oxzep7Error("lock line %d (%s) is an option line without a name; only "
                              "requirements are allowed in a lock" % (number, redact(line)))
        match = _NAME.match(line)
        name = fields.get("name") or (match.group(1) if match else None)
        if not name:
            raise Oxzep7Error("lock line %d (%s) names no project" % (number, redact(line)))
        kind = fields.get("kind")
        if kind is None:
            kind = "pin" if re.match(r"^[^@;]*===?[^=]", line) else "url"
        version = fields.get("version")
        if version is None and kind == "pin":
            version = re.split(r"===?", line, 1)[1].split(";")[0].strip()
        url = line.split(" @ ", 1)[1] if " @ " in line else (line[3:] if line.startswith("-e ") else "")
        entries.append(dict(name=name, version=version, kind=kind, line=line,
                            local_path=_url_path(url.split("#")[0]) if url else None,
                            seed=canonical_name(name) in SEED_PACKAGES))
    return entries


def apply_upgrades(entries, upgrades):
    """Replace or add entries for the requirement strings in ``upgrades``.

    :param upgrades: list of requirement strings such as ``numpy==1.26.4`` or
        ``pandas>=2.1``; each replaces the lock entry with the same project name.
    :returns: ``(entries, names)``: a new list, and the canonical names upgraded.
    :raises Oxzep7Error: on an upgrade that names no project.
    """
    by_name = dict((canonical_name(e["name"]), e) for e in entries)
    upgraded = []
    for req in upgrades or []:
        match = _NAME.match(req)
        if not match:
            raise Oxzep7Error("upgrade %r names no project" % req)
        key = canonical_name(match.group(1))
        pinned = re.match(r"^[^@;]*==([^=;\s]+)\s*$", req)
        by_name[key] = dict(name=match.group(1), version=pinned.group(1) if pinned else None,
                            kind="upgrade", line=req.strip(), local_path=None, seed=key in SEED_PACKAGES)
        upgraded.append(key)
    return sorted(by_name.values(), key=lambda e: canonical_name(e["name"])), upgraded


def same_version(a, b):
    """Tell whether two version strings are equal under PEP 440 (``1.0 == 1.0.0``)."""
    if _Version is not None:
        try:
            return _Version(a) == _Version(b)
        except InvalidVersion:
            pass
    return a == b


def unreproducible(entries):
    """Return the entries that cannot be reinstalled here, each with a ``reason``.

    A ``file://`` source (local directory, archive or editable checkout) must
    still exist on the host.
    """
    out = []
    for e in entries:
        path = e.get("local_path")
        if path and not os.path.exists(path):
            item = dict(e)
            item["reason"] = "its source %s no longer exists" % path
            out.append(item)
    return out


def compare_installed(entries, dists, ignore=()):
    """Compare a venv's installed set with a lock.

    :param entries: lock entries.
    :param dists: distribution dicts from ``_venv.venv_distributions``.
    :param ignore: canonical names to leave out (seed packages, upgraded ones).
    :returns: dict with ``missing`` (in the lock, not installed), ``extra``
        (installed, not in the lock) and ``different`` (name, locked, installed),
        each a sorted list.
    """
    ignore = set(ignore)
    locked = dict((canonical_name(e["name"]), e.get("version")) for e in entries)
    installed = dict((canonical_name(d["name"]), d["version"]) for d in dists)
    missing = sorted(n for n in locked if n not in installed and n not in ignore)
    extra = sorted(n for n in installed if n not in locked and n not in ignore)
    different = [dict(name=n, locked=locked[n], installed=installed[n]) for n in sorted(locked)
                 if n in installed and n not in ignore and locked[n]
                 and not same_version(locked[n], installed[n])]
    return dict(missing=missing, extra=extra, different=different)
