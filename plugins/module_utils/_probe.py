# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight probes that run inside the venv's own (old) interpreter.

The module process on a host may run a system Python without ``packaging``; the
venv's interpreter has pip, and pip vendors ``packaging``. So the modules run this
file's source with ``<venv>/bin/python -I -B -c <source> <command> <input.json>`` and
read one JSON document from its stdout (see ``_compat.run_probe``). Kept compatible
with Python 3.6, and importable without ``packaging`` (the functions that need it
raise ``ProbeError``).

Commands:

``packages``
    The files the index pages (PEP 503 HTML or PEP 691 JSON simple API, fetched by the
    module) or the find-links sources hold for each locked project, judged for each target Python with
    ``packaging``: wheel tags against the tags of CPython X.Y on this host's platform
    (``packaging.tags.platform_tags()``, so the manylinux/musllinux level is this
    host's), Requires-Python (PEP 345/503), yanked files (PEP 592), and, for a pin
    without a wheel, the releases above it that could fix it. An upgrade given as a
    requirement with a specifier gets the release pip would pick for each target.
``requirements``
    The dependencies among a set of releases (each wheel's Requires-Dist, from pip's
    report), evaluated for a target (PEP 508 markers): the requirements the set breaks,
    and the lowest release with a wheel that satisfies all of them.
``code``
    The app's own code: the minimum Python version ``vermin`` computes, and the
    imports (read with ``ast``) of standard library modules that the current
    interpreter has and the target's standard library does not (``stdlib-list``).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import sys
import tarfile
import zipfile

try:  # packaging itself, else the copy pip vendors
    from packaging import tags
    from packaging.markers import InvalidMarker, Marker, default_environment
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
    from packaging.version import InvalidVersion, Version
except ImportError:
    try:
        from pip._vendor.packaging import tags
        from pip._vendor.packaging.markers import InvalidMarker, Marker, default_environment
        from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
        from pip._vendor.packaging.specifiers import InvalidSpecifier, SpecifierSet
        from pip._vendor.packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
        from pip._vendor.packaging.version import InvalidVersion, Version
    except ImportError:
        tags = None

__metaclass__ = type

SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz")
_CATCH_IMPORT_ERROR = ("ImportError", "ModuleNotFoundError", "Exception", "BaseException")


class ProbeError(Exception):
    """A probe cannot do its work (no packaging, say)."""


def _need_packaging():
    if tags is None:
        raise ProbeError("neither packaging nor pip's vendored copy (pip >= 21.1) can be imported "
                         "by %s; install pip in the venv" % sys.executable)


# --- reading an index ------------------------------------------------------------------------

def _anchors(html, base):
    """The links of a PEP 503 page: list of dicts (filename, url, requires_python, yanked)."""
    from html.parser import HTMLParser
    from urllib.parse import urljoin

    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag != "a":
                return
            attrs = dict(attrs)
            href = attrs.get("href")
            if not href:
                return
            url = urljoin(base, href)
            name = url.split("#", 1)[0].rsplit("/", 1)[-1]
            yanked = attrs.get("data-yanked")
            found.append(dict(filename=_unquote(name), url=url,
                              requires_python=attrs.get("data-requires-python"),
                              yanked=yanked is not None, yanked_reason=yanked or None))

    Parser().feed(html)
    return found


def _unquote(text):
    from urllib.parse import unquote
    return unquote(text)


def _json_files(text, base):
    """The files of a PEP 691 JSON project page, in the shape of :func:`_anchors`."""
    from urllib.parse import urljoin
    out = []
    for f in json.loads(text).get("files", []):
        yanked = f.get("yanked", False)
        out.append(dict(filename=f["filename"], url=urljoin(base, f["url"]),
                        requires_python=f.get("requires-python"), yanked=bool(yanked),
                        yanked_reason=yanked if isinstance(yanked, str) and yanked else None))
    return out


def _metadata_requires_python(path):
    """Requires-Python from a local wheel's METADATA or an sdist's PKG-INFO, or None."""
    from email.parser import HeaderParser
    text = None
    try:
        if path.endswith(".whl"):
            with zipfile.ZipFile(path) as zf:
                meta = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
                text = zf.read(meta[0]).decode("utf-8") if meta else None
        elif path.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
            with tarfile.open(path) as tf:
                info = [m for m in tf.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")]
                handle = tf.extractfile(info[0]) if info else None
                text = handle.read().decode("utf-8") if handle else None
    except (OSError, IOError, zipfile.BadZipfile, tarfile.TarError, UnicodeDecodeError):
        return None
    return HeaderParser().parsestr(text).get("Requires-Python") if text else None


def _directory_files(directory):
    out = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            out.append(dict(filename=name, url="file://" + path, yanked=False, yanked_reason=None,
                            requires_python=_metadata_requires_python(path)))
    return out


def list_files(project, sources, cache):
    """Return the files (list of dicts, see :func:`_anchors`) that ``sources`` hold for ``project``.

    The module fetched the pages (with Ansible's ``open_url``); the probe only reads them.

    :param sources: list of ``{"index": root, "pages": {name: [content type, text]}}``
        (a simple API root and its project pages, by normalized name), ``{"links": dir}``
        (a local ``--find-links`` directory) or ``{"links": url, "text": html}`` (a page).
    :param cache: dict reused across calls (find-links listings are read once).
    """
    name = canonicalize_name(project)
    files = []
    for source in sources:
        if "index" in source:
            base = source["index"].rstrip("/") + "/" + name + "/"
            ctype, text = (source["pages"].get(name) or [None, None])
            if text:
                files += _json_files(text, base) if "json" in (ctype or "") else _anchors(text, base)
            continue
        link = source["links"]
        if link not in cache:
            path = link[len("file://"):] if link.startswith("file://") else link
            cache[link] = _directory_files(path) if os.path.isdir(path) else _anchors(source.get("text") or "", link)
        files += cache[link]
    return [f for f in files if (_parse_filename(f["filename"]) or (None,))[0] == name]


def _parse_filename(filename):
    """``(canonical name, Version, tags or None)`` of a wheel or sdist file name, else None."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, file_tags = parse_wheel_filename(filename)
            return canonicalize_name(name), version, file_tags
        if filename.endswith(SDIST_SUFFIXES):
            name, version = parse_sdist_filename(filename)
            return canonicalize_name(name), version, None
    except (ValueError, InvalidVersion):
        return None
    return None


# --- judging files for a target ---------------------------------------------------------------

def target_tags(target, platforms):
    """The tags CPython ``target`` ("3.12") accepts on ``platforms``, most preferred first.

    Uses ``packaging.tags.cpython_tags`` and ``compatible_tags`` with the ABI ``cpXY``
    (plus ``abi3`` and ``none``, which packaging adds), the same set pip builds from
    ``--python-version X.Y --implementation cp --platform ...``.
    """
    _need_packaging()
    version = tuple(int(p) for p in target.split(".")[:2])
    interpreter = "cp%d%d" % version
    return (list(tags.cpython_tags(version, abis=[interpreter], platforms=platforms))
            + list(tags.compatible_tags(version, interpreter=interpreter, platforms=platforms)))


# The patch releases an X.Y target stands for: a minor series has had at most a few dozen.
PATCHES = 100
_ALLOWS = {}  # (specifier, target, python) -> python_allows' answer, for this process


def python_allows(requires_python, target, python=None):
    """Tell whether a Requires-Python specifier admits the target interpreter.

    An ``X.Y`` target is a minor series: the rebuild picks the newest ``X.Y.*`` installed when it
    runs, which may be a later patch release than any installed now (the interpreter stage of
    upgrade.yml runs after the preflight). So it is admitted when some release of the series
    from ``python`` on is (``>=3.8.1`` admits 3.8; ``!=3.12.*`` excludes 3.12; ``<3.12.1``
    excludes 3.12 once 3.12.1 is installed). The rebuild's pip checks the real interpreter again,
    and a refusal there leaves the live venv as it was.

    :param requires_python: the specifier (str, such as ``>=3.8.1,!=3.9.*``) or None.
    :param target: ``X.Y.Z``, checked as that release; or ``X.Y``.
    :param python: for an ``X.Y`` target, the "X.Y.Z" of its newest installed interpreter
        (``_compat.target_pythons``), the lowest patch release the rebuild can get; None: X.Y.0.
    :returns: bool; True for no specifier and for one that does not parse (pip ignores an
        invalid Requires-Python too). Answers are cached per (specifier, target, python): the
        files of one project share a few specifiers.
    """
    if not requires_python:
        return True
    key = (requires_python, target, python)
    if key not in _ALLOWS:
        try:
            spec = SpecifierSet(requires_python)
        except InvalidSpecifier:
            spec = None
        if target.count(".") == 2:
            versions = [target]
        else:
            floor = int(python.split(".")[2]) if python else 0
            versions = ["%s.%d" % (target, z) for z in range(floor, max(floor + 1, PATCHES))]
        _ALLOWS[key] = spec is None or any(spec.contains(v, prereleases=True) for v in versions)
    return _ALLOWS[key]


def checked_against(target, python=None):
    """What :func:`python_allows` held a Requires-Python against, in words for a message (str).

    ``3.12.4`` for an ``X.Y.Z`` target; for an ``X.Y`` one, ``3.12 from 3.12.1 on (the newest 3.12 installed)``
    with ``python``, else ``every 3.12 release``.
    """
    if target.count(".") == 2:
        return target
    if python:
        return "%s from %s on (the newest %s installed)" % (target, python, target)
    return "every %s release" % target


def judge(files, target, accepted_tags, allow_sdist, python=None):
    """Judge the files of one release for one target.

    :param files: files of that release (dicts from :func:`list_files`).
    :param target: "X.Y" or "X.Y.Z", as the module's target is written.
    :param python: the "X.Y.Z" of the target's newest installed interpreter, or None (see
        :func:`python_allows`, which checks Requires-Python).
    :param accepted_tags: list of ``packaging.tags.Tag`` from :func:`target_tags`.
    :param allow_sdist: whether building from an sdist counts as installable.
    :returns: dict with ``status`` (``wheel``, ``sdist`` or ``none``), ``file`` (the
        chosen file name or None), ``reason`` (why ``none``), ``yanked`` (bool: every
        file of the release is yanked) and ``yanked_reason``.
    """
    rank = dict((tag, i) for i, tag in enumerate(accepted_tags))
    wheels, sdists, excluded = [], [], []
    for f in files:
        parsed = _parse_filename(f["filename"])
        if not python_allows(f.get("requires_python"), target, python):
            excluded.append(f)
        elif parsed[2] is None:
            sdists.append(f)
        else:
            best = min([rank[t] for t in parsed[2] if t in rank] or [None], key=lambda r: (r is None, r))
            if best is not None:
                wheels.append((best, f))
    yanked = bool(files) and all(f.get("yanked") for f in files)
    result = dict(status="none", file=None, reason=None, yanked=yanked,
                  yanked_reason=next((f["yanked_reason"] for f in files if f.get("yanked_reason")), None))
    if wheels:
        result.update(status="wheel", file=min(wheels, key=lambda w: w[0])[1]["filename"])
    elif sdists and allow_sdist:
        result.update(status="sdist", file=sdists[0]["filename"])
    elif not files:
        result["reason"] = "not on the index"
    elif excluded and len(excluded) == len(files):
        result["reason"] = "Requires-Python %s excludes %s" % (excluded[0]["requires_python"],
                                                               checked_against(target, python))
    elif sdists:
        result["reason"] = "only an sdist (%s) and source builds are not allowed" % sdists[0]["filename"]
    else:
        built = sorted(set(t.interpreter for f in files if f not in excluded
                           for t in (_parse_filename(f["filename"])[2] or ())))
        result["reason"] = "no wheel for CPython %s on this platform (wheels for: %s)" % (
            target, ", ".join(built) or "none")
    return result


MAX_CANDIDATES = 20  # releases returned per pin and target as candidate fixes


def candidates(releases, base, target, accepted_tags, allow_sdist, python=None):
    """The releases above ``base`` that could replace a pin that cannot install on ``target``.

    Ascending, not yanked, each with a wheel for the target or (``allow_sdist``) only an
    sdist; the list stops at the first release with a wheel (at most ``MAX_CANDIDATES``).
    The module proves the sdists among them by building them (``_proof``).

    :param releases: dict ``Version -> list of files``.
    :param base: ``Version`` (the locked release).
    :returns: list of dicts with ``version`` (str), ``file``, ``status`` (``wheel`` or
        ``sdist``) and ``crosses_major`` (bool: its first release segment differs from the base's).
    """
    out = []
    for version in sorted(v for v in releases if v > base and (base.is_prerelease or not v.is_prerelease)):
        verdict = judge(releases[version], target, accepted_tags, allow_sdist, python)
        if verdict["status"] == "none" or verdict["yanked"]:
            continue
        out.append(dict(version=str(version), file=verdict["file"], status=verdict["status"],
                        crosses_major=version.release[0] != base.release[0]))
        if verdict["status"] == "wheel" or len(out) >= MAX_CANDIDATES:
            break
    return out


def _releases(name, sources, cache):
    """``Version -> list of files`` the ``sources`` hold for project ``name``."""
    releases = {}
    for f in list_files(name, sources, cache):
        releases.setdefault(_parse_filename(f["filename"])[1], []).append(f)
    return releases


def _version(name, text):
    try:
        return Version(text)
    except InvalidVersion:
        raise ProbeError("%s has an invalid version %r in the lock" % (name, text))


def _pick(releases, specifier, target, accepted_tags, allow_sdist, python=None):
    """The release pip would install for ``specifier`` (a ``SpecifierSet``) on ``target``: the
    newest one it allows that is not yanked and has a file for the target, else the newest it allows."""
    allowed = sorted((v for v in releases if specifier.contains(v)), reverse=True)
    for version in allowed:
        verdict = judge(releases[version], target, accepted_tags, allow_sdist, python)
        if verdict["status"] != "none" and not verdict["yanked"]:
            return version
    return allowed[0] if allowed else None


def check_packages(request):
    """The ``packages`` command.

    :param request: dict with ``pins`` (list of dicts: name, version, kind, url, ``marker``
        (the line's PEP 508 environment marker, or None: a target it excludes gets the status
        ``excluded``), and for an upgrade ``requirement``, the requirement string, and ``base``,
        the locked version it replaces), ``targets`` (list of "X.Y"), ``sources`` (see :func:`list_files`),
        ``allow_sdist`` (bool) and optionally ``platforms`` (list of platform tags;
        default: this host's, from ``packaging.tags.platform_tags()``) and ``pythons`` (target ->
        the "X.Y.Z" of its newest installed interpreter, for Requires-Python and markers).
    :returns: dict with ``platforms`` and ``packages``: per pin its name, version,
        kind and ``targets`` (target -> :func:`judge` result plus ``version``, the
        release judged, and ``releases``, the :func:`candidates` when it has no wheel).
    """
    _need_packaging()
    platforms = request.get("platforms") or list(tags.platform_tags())
    accepted = dict((t, target_tags(t, platforms)) for t in request["targets"])
    pythons = request.get("pythons") or {}
    cache, packages = {}, []
    for pin in request["pins"]:
        entry = dict(name=pin["name"], version=pin["version"], kind=pin["kind"], targets={})
        try:
            marker = Marker(pin["marker"]) if pin.get("marker") else None
        except InvalidMarker as exc:
            raise ProbeError("the environment marker of %s (%s) is not valid: %s" % (pin["name"], pin["marker"], exc))
        excluded = [t for t in request["targets"]
                    if marker is not None and not marker.evaluate(target_environment(t, pythons.get(t)))]
        for target in excluded:  # pip passes the line over on that target: nothing to judge
            entry["targets"][target] = dict(status="excluded", file=None, yanked=False, yanked_reason=None,
                                            version=pin["version"], releases=[],
                                            reason="its marker (%s) excludes %s" % (pin["marker"], target))
        if len(excluded) == len(request["targets"]):
            packages.append(entry)
            continue
        if pin["kind"] != "pin":
            for target in [t for t in request["targets"] if t not in excluded]:
                entry["targets"][target] = _judge_direct(pin, target, accepted[target])
            packages.append(entry)
            continue
        releases = _releases(pin["name"], request["sources"], cache)
        try:
            specifier = Requirement(pin["requirement"]).specifier if pin.get("requirement") else None
        except InvalidRequirement as exc:
            raise ProbeError("the upgrade %r is not a valid requirement: %s" % (pin["requirement"], exc))
        for target in [t for t in request["targets"] if t not in excluded]:
            python = pythons.get(target)
            if pin["version"]:
                chosen = _version(pin["name"], pin["version"])
                if chosen not in releases and not chosen.local:
                    # "==2.1.0" matches "2.1.0+cpu" too (PEP 440, local versions): what pip installs
                    chosen = _pick(releases, SpecifierSet("==%s" % chosen), target, accepted[target],
                                   request["allow_sdist"], python) or chosen
            else:
                chosen = _pick(releases, specifier, target, accepted[target], request["allow_sdist"], python)
            verdict = judge(releases.get(chosen, []), target, accepted[target], request["allow_sdist"], python)
            if chosen is None:
                verdict["reason"] = "no release on the index matches %s" % pin["requirement"]
            base = _version(pin["name"], pin["base"]) if pin.get("base") else chosen
            verdict.update(version=str(chosen) if chosen is not None else None, releases=(
                candidates(releases, base, target, accepted[target], request["allow_sdist"], python)
                if verdict["status"] != "wheel" and base is not None else []))
            entry["targets"][target] = verdict
        packages.append(entry)
    return dict(platforms=platforms, packages=packages)


def target_environment(target, python=None):
    """The PEP 508 marker environment of CPython ``target`` on this host (this host's
    platform keys, the target's Python keys). ``python``: the "X.Y.Z" of the target's newest
    installed interpreter, for ``python_full_version``; else ``target``, X.Y taken as X.Y.0."""
    full = python or (target if target.count(".") == 2 else target + ".0")
    env = default_environment()
    env.update(python_version=".".join(target.split(".")[:2]), python_full_version=full,
               implementation_name="cpython", implementation_version=full,
               platform_python_implementation="CPython", extra="")
    return env


def check_requirements(request):
    """The ``requirements`` command: which requirements a set of releases breaks on a target.

    :param request: dict with ``items`` (list of dicts: name, version, ``requires``: the
        Requires-Dist strings of that release, and ``requires_python``: its Requires-Python or None,
        both from its metadata in pip's report), ``versions`` (canonical
        name -> the version the set holds, for every project of the lock), ``target``,
        ``python`` (the "X.Y.Z" of the target's newest installed interpreter, or None),
        ``platforms``, ``sources`` (see :func:`list_files`).
    :returns: dict with ``conflicts``: list of dicts ``name`` (the project whose version
        breaks a requirement), ``version``, ``requirement``, ``required_by`` (``name==version``),
        ``requirer`` (its canonical name), ``move_to`` (the lowest release above ``version``
        with a wheel for the target that satisfies every requirement on that project, or
        None) and ``crosses_major`` (whether that is a new major version); and ``added``: the
        projects a release requires on the target (its marker true there) that the set lacks,
        such as a backport a release needs only on newer Pythons: list of dicts ``name``,
        ``requirement``, ``required_by``, ``requirer`` and ``wanted`` (the requirement without
        its marker, for pip: pip evaluates markers for the interpreter it runs on, not the target);
        and ``python_excluded``: the items whose Requires-Python excludes the target (name, version,
        requires_python). An index page need not carry ``data-requires-python`` (PEP 503 makes it
        optional; a plain directory listing served as find-links has none), and pip runs with
        ``--ignore-requires-python``: the release's own metadata is the last word.
    """
    _need_packaging()
    python = request.get("python")
    env = target_environment(request["target"], python)
    accepted = target_tags(request["target"], request["platforms"])
    versions = request["versions"]
    excluded = [dict(name=item["name"], version=item["version"], requires_python=item["requires_python"])
                for item in request["items"] if not python_allows(item.get("requires_python"), request["target"], python)]
    needs, lacking = {}, {}
    for item in request["items"]:
        for text in item.get("requires") or []:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue  # pip would not install it either
            key = canonicalize_name(req.name)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            (needs if versions.get(key) else lacking).setdefault(key, []).append((req, item))
    conflicts, cache = [], {}
    added = [dict(name=key, requirement=str(req), required_by="%s==%s" % (by["name"], by["version"]),
                  requirer=canonicalize_name(by["name"]),
                  wanted="%s%s%s" % (req.name, "[%s]" % ",".join(sorted(req.extras)) if req.extras else "",
                                     req.specifier))
             for key in sorted(lacking) for req, by in lacking[key]]
    for key in sorted(needs):
        current = _version(key, versions[key])
        broken = [(req, by) for req, by in needs[key] if not req.specifier.contains(current, prereleases=True)]
        if not broken:
            continue
        releases = _releases(key, request["sources"], cache)
        move = next((v for v in sorted(v for v in releases if v > current)
                     if all(req.specifier.contains(v, prereleases=True) for req, _by in needs[key])
                     and judge(releases[v], request["target"], accepted, False, python)["status"] == "wheel"), None)
        conflicts += [dict(name=key, version=str(current), requirement=str(req), move_to=move and str(move),
                           crosses_major=bool(move) and move.release[0] != current.release[0],
                           required_by="%s==%s" % (by["name"], by["version"]), requirer=canonicalize_name(by["name"]))
                      for req, by in broken]
    return dict(conflicts=conflicts, added=added, python_excluded=excluded)


def _judge_direct(pin, target, accepted_tags):
    """A direct-URL, VCS, directory or editable requirement: only a wheel URL can be judged."""
    url = (pin.get("url") or "").split("#", 1)[0].split("?", 1)[0]
    name = url.rsplit("/", 1)[-1]
    if pin["kind"] == "url" and name.endswith(".whl"):
        verdict = judge([dict(filename=_unquote(name), url=url, requires_python=None, yanked=False,
                              yanked_reason=None)], target, accepted_tags, False)
        verdict["reason"] = verdict["reason"] and "the wheel at its URL: " + verdict["reason"]
    else:
        verdict = dict(status="source", file=None, yanked=False, yanked_reason=None,
                       reason="a %s requirement is built from source at install" % pin["kind"])
    verdict.update(version=pin["version"], releases=[])
    return verdict


# --- the app's own code ---------------------------------------------------------------------

def _imports(path):
    """``(line, top-level module, guarded)`` of each absolute import in one Python file.

    Read with ``ast``; ``guarded`` is true inside a ``try`` whose handlers catch
    ImportError, ModuleNotFoundError, Exception or everything (an optional import).
    """
    import ast
    with open(path, "rb") as fh:
        tree = ast.parse(fh.read(), filename=path)
    found = []

    def catches_import_error(node):
        for handler in node.handlers:
            names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            if any(n is None or getattr(n, "id", None) in _CATCH_IMPORT_ERROR for n in names):
                return True
        return False

    def visit(node, guarded):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name.split(".")[0], guarded) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.lineno, node.module.split(".")[0], guarded))
        for field, value in ast.iter_fields(node):
            inner = guarded or (isinstance(node, ast.Try) and field == "body" and catches_import_error(node))
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    visit(child, inner)

    visit(tree, False)
    return found


def _stdlib_now(module, cache):
    """Whether ``module`` resolves to this interpreter's standard library (not site-packages)."""
    if module not in cache:
        import importlib.util
        import sysconfig
        if module in sys.builtin_module_names:
            cache[module] = True
        else:
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                spec = None
            origin = os.path.realpath(spec.origin) if spec and spec.origin else ""
            stdlib = [os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib")]
            cache[module] = bool(origin) and any(origin.startswith(s + os.sep) for s in stdlib) \
                and "site-packages" not in origin
    return cache[module]


def python_files(paths):
    """Every ``*.py`` file under ``paths`` (files or directories), sorted; no hidden dirs."""
    out = []
    for path in paths:
        if os.path.isfile(path):
            out.append(path)
            continue
        for top, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            out += [os.path.join(top, f) for f in sorted(files) if f.endswith(".py")]
    return out


def check_code(request):
    """The ``code`` command.

    :param request: dict with ``paths`` (list of source files or directories),
        ``targets`` (list of "X.Y") and ``tools`` (a directory where vermin and
        stdlib-list are installed, put first on ``sys.path``).
    :returns: dict with ``files`` (int), ``minimum`` (the "X.Y" vermin computes, or
        None), ``minimum_detail`` (vermin's lines that set it), ``removed``
        (list of dicts: file, line, module, target: the first of ``targets`` whose standard
        library lacks the module, guarded: the import sits in a ``try`` that catches
        ImportError), ``syntax_errors`` (file and error) and ``unknown_targets``
        (targets the installed stdlib-list has no module list for).
    """
    sys.path.insert(0, request["tools"])
    from stdlib_list import stdlib_list
    files = python_files(request["paths"])
    local = set()
    for path in request["paths"]:
        base = path if os.path.isdir(path) else os.path.dirname(path)
        local.update(os.path.splitext(n)[0] for n in os.listdir(base))
    removed, errors, cache = [], [], {}
    targets = sorted(request["targets"], key=lambda t: tuple(int(p) for p in t.split(".")))
    stdlibs, unknown = {}, []
    for t in targets:
        try:
            stdlibs[t] = set(m.split(".")[0] for m in stdlib_list(".".join(t.split(".")[:2])))
        except ValueError:  # this stdlib-list release has no list for that version
            unknown.append(t)
    targets = [t for t in targets if t in stdlibs]
    for path in files:
        try:
            found = sorted(set(_imports(path)))
        except (SyntaxError, ValueError) as exc:
            errors.append(dict(file=path, error=str(exc)))
            continue
        for line, module, guarded in found:
            if module in local or not _stdlib_now(module, cache):
                continue
            gone = [t for t in targets if module not in stdlibs[t]]
            if gone:
                removed.append(dict(file=path, line=line, module=module, target=gone[0], guarded=guarded))
    minimum, detail = _vermin(request["paths"]) if files else (None, [])
    return dict(files=len(files), minimum=minimum, minimum_detail=detail, removed=removed, syntax_errors=errors,
                unknown_targets=unknown)


def _vermin(paths):
    """Run vermin's command line (``--format parsable``) in this process and read its verdict.

    vermin prints one ``file:line:col:py2:py3:feature`` line per finding and a last line
    ``:::py2:py3:`` with the minimum versions; ``!2`` means "not Python 2".
    """
    import contextlib
    import io
    from vermin.main import main as vermin_main
    out = io.StringIO()
    argv = sys.argv
    sys.argv = ["vermin", "--no-tips", "--no-parse-comments", "--format", "parsable", "--processes=1", "-vv"] + list(paths)
    try:
        with contextlib.redirect_stdout(out):
            try:
                vermin_main()
            except SystemExit:
                pass
    finally:
        sys.argv = argv
    lines = [ln for ln in out.getvalue().splitlines() if ln.count(":") >= 5]
    summary = [ln for ln in lines if ln.startswith(":::")]
    minimum = summary[-1].split(":")[4] if summary else None
    minimum = None if minimum in (None, "", "!3", "~3") else minimum
    detail = [ln for ln in lines if not ln.startswith(":") and ln.split(":")[4] == minimum and ln.split(":")[5]]
    return minimum, detail[:20]


COMMANDS = {"packages": check_packages, "requirements": check_requirements, "code": check_code}


def main():
    """Run ``COMMANDS[argv[1]]`` on the JSON request in file ``argv[2]``; print the JSON answer.

    Errors print ``{"error": msg}`` and exit with status 3.
    """
    try:
        with open(sys.argv[2]) as fh:
            request = json.load(fh)
        answer = COMMANDS[sys.argv[1]](request)
    except (ProbeError, ImportError, OSError, IOError, KeyError, IndexError, ValueError) as exc:
        sys.stdout.write(json.dumps(dict(error="%s: %s" % (type(exc).__name__, exc))) + "\n")
        raise SystemExit(3)
    sys.stdout.write(json.dumps(answer, default=str) + "\n")


if __name__ == "__main__":
    main()
