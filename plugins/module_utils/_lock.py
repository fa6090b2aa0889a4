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
    from urllib.parse import unquote, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not a supported host
    from urlparse import urlsplit  # type: ignore
    from urllib import unquote  # type: ignore

try:
    from packaging.utils import canonicalize_name as _canonicalize
    from packaging.version import InvalidVersion, Version as _Version
    from packaging.markers import InvalidMarker as _InvalidMarker, Marker as _Marker
except ImportError:  # the managed host may lack packaging; the rules are PEP 503's and 440's
    _canonicalize = _Version = _Marker = None
    _InvalidMarker = ValueError
    InvalidVersion = ValueError

__metaclass__ = type

# Installed by venv creation itself (ensurepip, uv venv --seed), not by the app.
SEED_PACKAGES = ("pip", "setuptools", "wheel", "distribute")
_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
# One white-space character before "#" (pip's comment rule), never a run: "\s+#" backtracks in
# quadratic time on a line of many spaces without "#" (a hostile lock).
_TAG = re.compile(r"(?:^|\s)#\s*oxzep7:\s*(.*)$")
_COMMENT = re.compile(r"(?:^|\s)#.*$")
# A per-requirement option after the requirement (--hash=sha256:..., as pip-compile
# --generate-hashes and uv export write them); what follows it is options too.
_REQUIREMENT_OPTION = re.compile(r"\s--?[A-Za-z]")
# Option lines that choose where and how to install: the collection's own installer options
# decide that, so a lock may carry them (pip-compile writes --index-url) and they are passed over.
_INSTALL_OPTIONS = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--no-index", "--trusted-host",
                    "--only-binary", "--no-binary", "--prefer-binary", "--pre")
_PIN = re.compile(r"^[^@;]*?===?\s*([^=;\s,]+)\s*(?:;.*)?$")


def read_lock(path):
    """The text of the lock file ``path``, decoded as pip reads a requirements file: UTF-8, or
    the encoding a byte-order mark names (UTF-8 or UTF-16, as PowerShell's ``pip freeze >`` writes).

    :returns: str without the byte-order mark.
    :raises Oxzep7Error: naming the file, when it cannot be read or decoded.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except (IOError, OSError) as exc:
        raise Oxzep7Error("cannot read lock %s: %s" % (path, exc))
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise Oxzep7Error("cannot read lock %s: it is not %s text (%s at byte %d)"
                          % (path, "UTF-16" if encoding == "utf-16" else "UTF-8", exc.reason, exc.start))


# "name @ url" and "name[extra]@url" (PEP 508 direct references; the spaces are optional).
_URL_REQUIREMENT = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*@\s*")
# Where the environment marker of a URL starts: a ";" before a PEP 508 marker variable (a URL may
# hold a ";" of its own, and pip takes "url; marker" without the space PEP 508 asks for).
_URL_MARKER = re.compile(r"\s*;\s*(?=[(\s]*(?:python_version|python_full_version|os_name|sys_platform|platform_\w+"
                         r"|implementation_\w+|extra)\b)")


def requirement_name(text):
    """The canonical project name a PEP 508 requirement string starts with (str), or None."""
    match = _NAME.match(text or "")
    return canonical_name(match.group(1)) if match else None


def is_url_requirement(line):
    """Whether a requirement line names its project's URL (``name @ url``): bool."""
    return bool(_URL_REQUIREMENT.match(line))


def direct_url(line):
    """The URL of a direct-URL (``name @ url``) or editable (``-e url``) requirement line, without
    its environment marker, or None."""
    match = _URL_REQUIREMENT.match(line)
    if match:
        url = line[match.end():]
    elif line.startswith("-e "):
        url = line[3:]
    else:
        return None
    return _URL_MARKER.split(url, 1)[0].strip()


def line_marker(line):
    """The PEP 508 environment marker of a requirement line (str), or None: what follows ``;`` (for
    a direct URL, a ``;`` before a marker variable)."""
    parts = _URL_MARKER.split(line, 1) if is_url_requirement(line) or line.startswith("-e ") else line.split(";", 1)
    return parts[1].strip() or None if len(parts) == 2 else None


def _logical_lines(text):
    """``(number, line)`` of each logical line: a line that ends in a backslash goes on with the next
    one, unless it is a comment line (pip's "Requirements File Format" and its ``join_lines``);
    ``number`` is the first physical line's."""
    out, pending, start = [], None, 0
    for number, raw in enumerate(text.splitlines(), 1):
        if pending is None:
            pending, start = "", number
        if raw.endswith("\\") and not raw.lstrip().startswith("#"):
            pending += raw[:-1] + " "
            continue
        out.append((start, pending + raw))
        pending = None
    if pending is not None:
        out.append((start, pending))
    return out


def canonical_name(name):
    """Return the normalized project name (PEP 503): lower case, runs of ``-_.`` as ``-``."""
    if _canonicalize is not None:
        return str(_canonicalize(name))
    return re.sub(r"[-_.]+", "-", name).lower()


def _url_path(url):
    """The absolute local path a ``file:`` URL names (str), or None for any other URL.

    The path is percent-decoded (RFC 8089; pip writes ``direct_url.json`` URLs quoted, PEP 610, so a
    space is ``%20``; bytes that are not UTF-8 come back as they were, as ``os`` functions take them);
    ``file://localhost/...`` is local too. A VCS URL (``git+file:///srv/repo@rev``) names its
    repository: everything from the path's last ``@`` on is the revision, as pip's
    ``VersionControl.get_url_rev_and_auth`` splits it (a branch ``release/1.2`` has a ``/``). A
    ``file:`` URL with another host, a relative path or a host that does not parse is not a local
    source this module can check (None).

    :param url: a URL without its ``#fragment``.
    """
    scheme, sep, rest = url.partition(":")
    vcs, _plus, base = scheme.rpartition("+")
    if not sep or base.lower() != "file":
        return None
    try:
        parts = urlsplit("file:" + rest)
    except ValueError:  # a host such as "[::1" that does not parse
        return None
    if parts.netloc not in ("", "localhost"):
        return None
    path = parts.path
    if vcs and "@" in path:
        path = path.rsplit("@", 1)[0]
    path = _unquote(path)
    return path if path.startswith("/") else None


def _unquote(text):
    try:
        return unquote(text, errors="surrogateescape")
    except TypeError:  # pragma: no cover - Python 2's unquote
        return unquote(text)


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


def parse_lock(text, source="lock"):
    """Parse a lock file: ours, or a requirements file that pins every project, as ``pip freeze``,
    ``pip-compile`` (hashes on continued lines too) and ``uv export`` write them.

    Comments, blank lines, per-requirement options (``--hash``) and the option lines of
    ``_INSTALL_OPTIONS`` (the collection's installer options choose the index) are passed over.

    :param text: the file's text (str; see :func:`read_lock`).
    :param source: what to call it in errors (str): the file's path.
    :returns: list of entry dicts like :func:`entry_for` gives.
    :raises Oxzep7Error: naming ``source`` and the line: a project name that cannot be told; an
        option line that is not an install option (``-r``, ``-c``, an ``-e`` without our name tag:
        the lock must list every project itself); a requirement that is not a pin (``==``/``===``
        one version) nor a direct URL, such as ``numpy>=1.24`` or ``numpy==1.24.*``: its release
        is chosen at install time, so no verdict holds for it; a project pinned twice.
    """
    entries, seen = [], {}
    for number, raw in _logical_lines(text):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        tag = _TAG.search(raw)
        fields = dict(f.split("=", 1) for f in tag.group(1).split() if "=" in f) if tag else {}
        line = raw[:tag.start()].strip() if tag else _COMMENT.sub("", stripped).strip()

        def where(number=number, line=line):  # only for an error: redact is costly on a long line
            return "%s line %d (%s)" % (source, number, redact(line[:200]))
        if line.startswith("-") and "name" not in fields:
            if line.split("=", 1)[0].split()[0] in _INSTALL_OPTIONS:
                continue
            raise Oxzep7Error("%s is an option line without a project name; a lock lists every project itself, by "
                              "name (an editable install as name @ file:///path), as venv_info's lock does" % where())
        option = _REQUIREMENT_OPTION.search(line) if not line.startswith("-") else None
        if option:
            line = line[:option.start()].strip()
        match = _NAME.match(line)
        name = fields.get("name") or (match.group(1) if match else None)
        if not name:
            raise Oxzep7Error("%s names no project" % where())
        kind = fields.get("kind")
        url_line = is_url_requirement(line)
        pinned = _PIN.match(line) if not url_line else None
        if kind is None:
            if pinned is None and not url_line:
                raise Oxzep7Error("%s is not a pin: a lock pins each project to one version with == (or names "
                                  "its URL with @); its release would be chosen at install time" % where())
            kind = "pin" if pinned else "url"
        version = fields.get("version")
        if version is None and kind == "pin":
            version = pinned.group(1) if pinned else None
            if not version or "*" in version:
                raise Oxzep7Error("%s is not a pin of one version" % where())
            if _Version is not None:
                try:
                    _Version(version)
                except InvalidVersion:
                    raise Oxzep7Error("%s pins %s, which is not a version (PEP 440)" % (where(), version[:80]))
        marker = line_marker(line)
        if marker and _Marker is not None:
            try:
                _Marker(marker)
            except _InvalidMarker as exc:
                raise Oxzep7Error("%s has an environment marker that is not valid: %s" % (where(), exc))
        key = canonical_name(name)
        if key in seen:
            if line == seen[key][1]:
                continue  # the same line again: pip installs it once
            raise Oxzep7Error("%s pins %s again (first on line %d); a lock holds one line per project%s"
                              % (where(), name, seen[key][0], ": this one is for several environments (markers), "
                                 "give the lock of this one (venv_info's, or pip freeze of the venv)"
                                 if marker else ""))
        seen[key] = (number, line)
        url = direct_url(line)
        entries.append(dict(name=name, version=version, kind=kind, line=line,
                            local_path=_url_path(url.split("#")[0]) if url else None,
                            seed=key in SEED_PACKAGES))
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
