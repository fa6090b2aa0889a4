# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Can this venv's lock move to a target Python? (the ``compat_check`` module)

Two sources of truth, both run with the venv's *old* interpreter:

- ``_probe.check_packages`` reads what the index or wheelhouse holds for each locked
  project (and each ``upgrades`` requirement) and judges every file for each target with
  ``packaging`` (tags, Requires-Python, yanked), and lists the releases that could fix a
  pin that cannot move;
- a pin whose only file for a target is an sdist is built with that target's interpreter
  (``_proof``): it installs only when the build passes; without the interpreter it is
  unproven. The fix of a pin is the lowest release above it with a wheel, or an sdist a
  build proves (``_fixes.choose_fix``);
- pip's own resolver then resolves each target's whole set, the pins with their fixes:
  ``pip install --dry-run --report`` with ``--python-version``, ``--implementation cp``,
  ``--abi``, ``--platform`` (this host's platform tags) and ``--only-binary=:all:`` over
  the wheels (pip's documented way to resolve for another interpreter; ``--target`` keeps
  pip older than 23.1 from refusing those options); the requirements among them are
  checked and the pins a fix forces to move are moved (``_fixes.resolve``).

The verdicts are sorted into inhibitors (the lock cannot move to that target as it is),
warnings (it moves, but something needs a look) and accepted inhibitors (allowlisted);
the remediation per target lists the ``upgrades`` that make the lock move.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.oxzep7.python.plugins.module_utils._common import (
    TIMEOUT_GATE, Oxzep7Error, module_runner, module_which, redact, remove_tree)
from ansible_collections.oxzep7.python.plugins.module_utils._fixes import (
    added_failure, choose_fix, installable, planned, remediation, resolve)
from ansible_collections.oxzep7.python.plugins.module_utils._installer import Installer, installer_options
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._lock import (
    canonical_name, direct_url, is_url_requirement, line_marker)
from ansible_collections.oxzep7.python.plugins.module_utils import _probe
from ansible_collections.oxzep7.python.plugins.module_utils._proof import CACHE_FILE, Prover
from ansible_collections.oxzep7.python.plugins.module_utils._release import plan_install, read_lock_entries
from ansible_collections.oxzep7.python.plugins.module_utils._venv import describe_live, inspect_python, python_of

__metaclass__ = type

# Targets resolved at once (threads, each waiting on its own pip process): a stepwise check from
# 3.8 to 3.13 has six.
MAX_PARALLEL_RESOLUTIONS = 4
_TARGET = re.compile(r"^3\.\d+(\.\d+)?$")


def version_key(target):
    """Sort key of a "X.Y" or "X.Y.Z" version string: a tuple of ints."""
    return tuple(int(p) for p in target.split("."))


def check_targets(targets):
    """Return ``targets`` (list of "3.Y" or "3.Y.Z") sorted and without duplicates.

    :raises Oxzep7Error: on an empty list or a value that is not a CPython 3 version.
    """
    bad = [t for t in targets if not _TARGET.match(str(t))]
    if bad or not targets:
        raise Oxzep7Error("targets must be CPython versions like 3.12 or 3.12.4, not %s" % (bad or "nothing"))
    return sorted(set(str(t) for t in targets), key=version_key)


def probe_source():
    """The source text of ``_probe`` (from its loader, so it works inside AnsiballZ too)."""
    loader = getattr(_probe, "__loader__", None)
    source = loader.get_source(_probe.__name__) if loader is not None and hasattr(loader, "get_source") else None
    if not source:
        with open(_probe.__file__) as fh:
            source = fh.read()
    return source


def run_probe(runner, python, command, request):
    """Run ``_probe`` command ``command`` in ``python`` and return its JSON answer (dict).

    :param request: a JSON-serializable dict, passed through a temporary file; the probe's source
        is a file beside it (as ``-c`` text it would fill every failure's ``cmd`` with 30 KB of code).
    :raises Oxzep7Error: when the probe fails; its message and the command's output.
    """
    workdir = tempfile.mkdtemp(prefix="oxzep7-probe-")
    try:
        script, path = os.path.join(workdir, "oxzep7_probe.py"), os.path.join(workdir, "request.json")
        with open(script, "w") as fh:
            fh.write(probe_source())
        with open(path, "w") as fh:
            json.dump(request, fh)
        result = runner.run([python, "-I", "-B", script, command, path], check=False,
                            env={"PYTHONDONTWRITEBYTECODE": "1"}, what="the %s probe" % command, timeout=TIMEOUT_GATE)
    finally:
        remove_tree(workdir, os.path.dirname(workdir))
    try:
        answer = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        answer = None
    if result.rc != 0 or not isinstance(answer, dict) or "error" in answer:
        reason = answer.get("error") if isinstance(answer, dict) else "it printed no answer"
        raise Oxzep7Error("the %s check in %s failed: %s" % (command, python, reason), **result.as_dict())
    return answer


def pip_default_index(runner, python, installer):
    """The index URL pip itself would use: ``PIP_INDEX_URL``, then ``pip config list``, then
    pip's built-in default (read from pip, ``pip._internal.models.index.PyPI``).

    :raises Oxzep7Error: when none of them can be read.
    """
    env = dict(installer.env)
    if not installer.options.get("isolated"):
        if env.get("PIP_INDEX_URL") or os.environ.get("PIP_INDEX_URL"):
            return env.get("PIP_INDEX_URL") or os.environ["PIP_INDEX_URL"]
        result = runner.run([python, "-m", "pip", "config", "list"], check=False, env=env)
        for line in result.stdout.splitlines():
            key, _sep, value = line.partition("=")
            if key in ("global.index-url", "install.index-url", "download.index-url"):
                return value.strip().strip("'\"")
    result = runner.run([python, "-I", "-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"],
                        check=False)
    if result.rc != 0 or not result.stdout.strip():
        raise Oxzep7Error("cannot tell which index pip uses; set index_url", **result.as_dict())
    return result.stdout.strip()


def sources(options, default_index):
    """The package sources of installer ``options``: list of ``{"index": url}`` or ``{"links": url or dir}``."""
    out = []
    if not options.get("no_index"):
        out.append({"index": options.get("index_url") or default_index})
        out += [{"index": url} for url in options.get("extra_index_urls") or []]
    out += [{"links": link} for link in options.get("find_links") or []]
    return out


# PEP 691: ask for the JSON form of the simple API, accept the HTML one (PEP 503).
_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


def fetch_page(url, timeout=30):
    """``(content type, text)`` of an index page, or ``(None, None)`` when it does not exist (404).

    Uses Ansible's ``open_url`` (proxies, CA bundle; credentials in the URL become Basic auth).
    ``file://`` URLs are read from disk.

    :param timeout: seconds.
    :raises Oxzep7Error: on any other failure, with the URL's credentials masked.
    """
    from ansible.module_utils.urls import open_url
    from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
    if url.startswith("file://"):
        path = url[len("file://"):]
        path = os.path.join(path, "index.html") if os.path.isdir(path) else path
        if not os.path.exists(path):
            return None, None
        with open(path) as fh:
            return "text/html", fh.read()
    try:
        response = open_url(url, headers={"Accept": _ACCEPT}, timeout=timeout, follow_redirects="safe")
    except HTTPError as exc:
        if exc.code == 404:
            return None, None
        raise Oxzep7Error("reading the index page %s failed: HTTP %s" % (redact(url), exc.code))
    except (URLError, OSError, ValueError) as exc:
        raise Oxzep7Error("reading the index page %s failed: %s" % (redact(url), redact(str(exc))))
    charset = response.headers.get_content_charset() or "utf-8"
    return response.headers.get("Content-Type", ""), response.read().decode(charset, "replace")


def fetch_sources(source_list, names):
    """Add the fetched pages to ``source_list`` for the probe (see ``_probe.list_files``).

    :param names: the locked project names; one page per name and index.
    """
    out = []
    for source in source_list:
        if "index" in source:
            root = source["index"].rstrip("/") + "/"
            pages = {}
            for name in sorted(set(canonical_name(n) for n in names)):
                ctype, text = fetch_page(root + name + "/")
                if text is not None:
                    pages[name] = [ctype, text]
            out.append(dict(source, pages=pages))
        elif os.path.isdir(source["links"][len("file://"):] if source["links"].startswith("file://") else source["links"]):
            out.append(source)
        else:
            out.append(dict(source, text=fetch_page(source["links"])[1] or ""))
    return out


def pip_resolves(runner, python, installer, pins, target, platforms, workdir, deps=False, constraints=()):
    """Ask pip's resolver whether ``pins`` install as wheels on CPython ``target``.

    :param pins: list of requirement strings (``name==version``).
    :param platforms: platform tags, most specific first.
    :param deps: resolve the dependencies the pins lack too (else ``--no-deps``: the pins alone).
    :param constraints: pip constraint strings (``name<version``), given with ``-c``: they narrow what pip
        picks for a project without asking for it.
    :returns: dict with ``target``, ``ok`` (bool), ``checked`` (int), ``files``
        (name -> chosen file name), ``yanked`` (names pip reports yanked), ``requires``
        (per release pip chose: name, version, ``requires``, its Requires-Dist, and
        ``requires_python``, its Requires-Python or None, from its metadata in pip's report), and on
        failure ``rc``, ``cmd`` and ``stderr`` (last 2000 characters).
    """
    report = os.path.join(workdir, "report-%s.json" % target)
    reqs = os.path.join(workdir, "requirements-%s.txt" % target)
    with open(reqs, "w") as fh:
        fh.write("\n".join(pins) + "\n")
    abi = "cp%s%s" % tuple(target.split(".")[:2])
    # --ignore-requires-python: pip before 23.1 checks a wheel's Requires-Python against the
    # interpreter running it, not --python-version. The probe checked the index's data-requires-python
    # against the target, and the requirements command checks each chosen release's own metadata.
    argv = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
            "--target", os.path.join(workdir, "target-%s" % target), "--report", report, "--only-binary=:all:",
            "--ignore-requires-python", "--python-version", target, "--implementation", "cp", "--abi", abi]
    argv += [] if deps else ["--no-deps"]
    for platform in platforms:
        argv += ["--platform", platform]
    argv += installer.index_args() + ["-r", reqs]
    if constraints:
        limits = os.path.join(workdir, "constraints-%s.txt" % target)
        with open(limits, "w") as fh:
            fh.write("\n".join(constraints) + "\n")
        argv += ["-c", limits]
    outcome = dict(target=target, ok=True, checked=len(pins), files={}, yanked=[], requires=[])
    if not pins:
        return outcome
    result = installer.run(runner, argv, check=False, what="pip's resolver for %s" % target, timeout=TIMEOUT_GATE)
    if result.rc != 0:
        outcome.update(ok=False, rc=result.rc, cmd=redact(result.cmd), stderr=redact(result.stderr[-2000:]))
        return outcome
    with open(report) as fh:
        for item in json.load(fh).get("install", []):
            meta = item["metadata"]
            name = canonical_name(meta["name"])
            outcome["files"][name] = item["download_info"]["url"].split("#")[0].rsplit("/", 1)[-1]
            outcome["requires"].append(dict(name=meta["name"], version=meta["version"],
                                            requires=meta.get("requires_dist") or [],
                                            requires_python=meta.get("requires_python")))
            if item.get("is_yanked"):
                outcome["yanked"].append(name)
    return outcome


def _matches(rule, name, version, target):
    return (canonical_name(rule["name"]) == canonical_name(name)
            and rule.get("version") in (None, "", version)
            and rule.get("target") in (None, "", target))


def _fix_hint(fix, target):
    """The sentence that proposes ``fix`` (see ``_fixes.choose_fix``) for ``target``."""
    if not fix:
        return " No release on the index installs on %s." % target
    kind = "a wheel" if fix["status"] == "wheel" else "an sdist that builds in %s s" % fix["proof"]["seconds"]
    moves = "; it moves %s too" % ", ".join("%s %s -> %s (%s requires %s)" % (
        m["name"], m["version"], m["move_to"], m["required_by"], m["requirement"]) for m in fix["moves"]) \
        if fix["moves"] else ""
    return " Lowest release that installs on %s: %s (%s%s)%s." % (
        target, fix["version"], kind, ", a new major version" if fix["crosses_major"] else "", moves)


def _package_finding(name, version, target, verdict):
    """``(severity, check, message)`` of one judged pin (a verdict with its ``proof``), or None
    when it needs no word; severity is ``inhibitor`` or ``warning``."""
    proof = verdict.get("proof") or {}
    if verdict["status"] == "none":
        return "inhibitor", "package", "%s %s cannot install on %s: %s." % (name, version, target, verdict["reason"])
    if verdict["status"] != "sdist":
        return None
    if proof["result"] == "passed":
        return "warning", "sdist_proven", "%s %s has no wheel for %s; its sdist %s builds with %s and %s (%s s%s)" % (
            name, version, target, verdict["file"], proof["interpreter"], proof["installer"], proof["seconds"],
            ", proven at %s" % proof["at"] if proof["cached"] else "")
    if proof["result"] == "failed":
        compiler = " (first compiler error: %s)" % proof["compiler_error"] if proof["compiler_error"] else ""
        return "inhibitor", "sdist_build", "%s %s has no wheel for %s and its sdist does not build with %s and %s: " \
            "%s%s." % (name, version, target, proof["interpreter"], proof["installer"], proof["error"], compiler)
    return "inhibitor", "sdist_unproven", "%s %s has no wheel for %s and its sdist is unproven: %s. Prove it " \
        "with: `%s`." % (name, version, target, proof["error"], proof["command"])


MATRIX_STATUS = {"sdist_build": "sdist_fails", "sdist_unproven": "sdist_unproven"}


def assess(packages, targets, allowlist, upgraded, original, resolution, unreproducible, pythons=None):
    """Sort the verdicts into inhibitors, warnings and accepted inhibitors.

    :param packages: the probe's ``packages`` list, each verdict with its ``proof`` (an sdist)
        and ``fix`` (see ``_fixes.choose_fix``, with the ``moves`` it forces).
    :param targets: sorted list of "X.Y".
    :param allowlist: list of dicts (name, optional version and target, reason).
    :param upgraded: canonical names the ``upgrades`` replaced.
    :param original: canonical name -> the locked version before upgrades.
    :param resolution: list of ``_fixes.resolve`` results (one per target, with ``target``).
    :param unreproducible: list of dicts (name, line, reason) the rebuild cannot install.
    :param pythons: target -> the "X.Y.Z" of its newest installed interpreter (:func:`target_pythons`), which
        the messages on Requires-Python name; None or a missing target: none installed.
    :returns: dict with ``inhibitors``, ``cautions`` (the warnings; Ansible reserves
        ``warnings`` in module results), ``accepted`` (lists of dicts with
        ``target``, ``name``, ``version``, ``check``, ``message`` and, for an inhibitor,
        ``fix``), ``matrix`` (per package its status at each target and ``breaks_at``)
        and ``can_move`` (target -> bool).
    """
    inhibitors, warnings, accepted, matrix = [], [], [], []
    pythons = pythons or {}

    def inhibit(item):
        rule = next((r for r in allowlist if _matches(r, item["name"], item["version"], item["target"])), None)
        if rule:
            accepted.append(dict(item, allowlist_reason=rule.get("reason") or ""))
        else:
            inhibitors.append(item)

    for target in targets:
        for item in unreproducible:
            inhibit(dict(target=target, name=item["name"], version=None, check="unreproducible",
                         message="cannot be reinstalled: %s" % item["reason"], fix=None))
    for outcome in resolution:
        target = outcome["target"]
        if not outcome["ok"]:
            inhibit(dict(target=target, name="(resolution)", version=None, check="resolution", fix=None,
                         message="pip could not resolve the lock with its fixes for %s: %s" % (
                             target, (outcome["stderr"].strip().splitlines() or [""])[-1])))
        for x in outcome.get("python_excluded", []):
            inhibit(dict(target=target, name=x["name"], version=x["version"], check="requires_python", fix=None,
                         message="%s %s, the release the rebuild installs, declares Requires-Python %s in its "
                         "metadata, which excludes %s" % (x["name"], x["version"], x["requires_python"],
                                                          _probe.checked_against(target, pythons.get(target)))))
        for c in outcome["conflicts"]:
            inhibit(dict(target=target, name=c["name"], version=c["version"], check="conflict", fix=None,
                         message="%s requires %s, and no release of %s with a wheel for %s satisfies it" % (
                             c["required_by"], c["requirement"], c["name"], target)))
        for a in outcome.get("added", []):
            item = dict(target=target, name=a["name"], version=a["version"], check="new_dependency", fix=None)
            if a["version"]:
                warnings.append(dict(item, message="%s requires %s on %s, which the lock does not install there: "
                                     "the rebuild adds %s %s" % (a["required_by"], a["requirement"], target,
                                                                 a["name"], a["version"])))
            else:
                inhibit(dict(item, message=added_failure(a, target)))
        for m in [m for m in outcome["moves"] if m["as_is"]]:
            fix = dict(version=m["move_to"], file=None, status="wheel", crosses_major=m["crosses_major"], proof=None,
                       moves=[])
            inhibit(dict(target=target, name=m["name"], version=m["version"], check="conflict", fix=fix,
                         message="%s requires %s on %s, and the lock has %s %s.%s" % (
                             m["required_by"], m["requirement"], target, m["name"], m["version"],
                             _fix_hint(fix, target))))
    for pkg in packages:
        name, version = pkg["name"], pkg["version"]
        row = dict(name=name, version=version, statuses={}, breaks_at=None)
        for target in targets:
            verdict = pkg["targets"][target]
            base = dict(target=target, name=name, version=verdict["version"] or version)
            finding = _package_finding(name, base["version"], target, verdict)
            row["statuses"][target] = MATRIX_STATUS.get(finding and finding[1], verdict["status"])
            if finding and finding[0] == "inhibitor":
                row["breaks_at"] = row["breaks_at"] or target
                inhibit(dict(base, check=finding[1], fix=verdict["fix"],
                             message=finding[2] + _fix_hint(verdict["fix"], target)))
                continue
            if finding:
                warnings.append(dict(base, check=finding[1], message=finding[2]))
            key = canonical_name(name)
            if key in upgraded:
                warnings.append(dict(base, check="upgrade", message="%s moves to %s only with the upgrade %s -> %s" % (
                    name, target, original.get(key), base["version"])))
            if verdict["status"] == "source":
                warnings.append(dict(base, check="direct_url", message="%s: %s; not checked against the index" % (
                    name, verdict["reason"])))
            if verdict["yanked"]:
                warnings.append(dict(base, check="yanked", message="%s %s is yanked on the index%s" % (
                    name, base["version"], ": %s" % verdict["yanked_reason"] if verdict["yanked_reason"] else "")))
        matrix.append(row)
    rows = dict((canonical_name(row["name"]), row) for row in matrix)
    for outcome in resolution:  # a locked release whose own Requires-Python excludes the target
        for x in [x for x in outcome.get("python_excluded", []) if canonical_name(x["name"]) in rows]:
            row = rows[canonical_name(x["name"])]
            row["statuses"][outcome["target"]] = "requires_python"
            row["breaks_at"] = min([t for t in (row["breaks_at"], outcome["target"]) if t], key=version_key)
    can_move = dict((t, not any(i["target"] == t for i in inhibitors)) for t in targets)
    return dict(inhibitors=inhibitors, cautions=warnings, accepted=accepted, matrix=matrix, can_move=can_move)


def seed_cautions(skipped_seed, original, targets):
    """Warnings for ``setuptools`` left to the new venv's seed on targets whose ``venv`` seeds none.

    From Python 3.12 on, ``python -m venv`` installs pip only (and uv's ``--seed`` does the same),
    so a venv that had setuptools, and with it ``pkg_resources`` and the ``distutils`` shim, has
    neither after the rebuild unless the lock keeps it (``keep_seed_pins``) or an upgrade names it
    (the venv module's documentation, "Changed in version 3.12").

    :param skipped_seed: names ``_release.plan_install`` leaves to the seed.
    :param original: canonical name -> the locked version.
    :param targets: "X.Y[.Z]" strings: the targets where pip's resolution adds no setuptools.
    :returns: list of warning dicts (target, name, version, check ``seed_dropped``, message).
    """
    if "setuptools" not in [canonical_name(n) for n in skipped_seed]:
        return []
    return [dict(target=t, name="setuptools", version=original.get("setuptools"), check="seed_dropped",
                 message="setuptools %s (and with it the distutils shim and pkg_resources) is in the venv, and a "
                         "venv on %s is seeded with pip only, nor does any locked release require it there: the new "
                         "release has no setuptools unless an upgrade names one (recent setuptools releases no "
                         "longer ship pkg_resources; pin one that does if the app imports it)"
                         % (original.get("setuptools"), t))
            for t in targets if version_key(t) >= (3, 12)]


def _probe_pins(entries, locked):
    """The probe's pins for the planned lock ``entries``; an upgrade without a URL is judged like a pin.

    :param locked: canonical name -> the locked ``==`` version an upgrade replaces.
    """
    pins = []
    for e in entries:
        url = direct_url(e["line"]) if is_url_requirement(e["line"]) else None
        pin = dict(name=e["name"], version=e["version"], kind=e["kind"], url=url, marker=line_marker(e["line"]))
        if e["kind"] == "upgrade":
            pin.update(kind="url" if url else "pin", requirement=e["line"], base=locked.get(canonical_name(e["name"])))
        pins.append(pin)
    return pins


def check(runner, python, entries, targets, installer_options, which, upgrades=None, allowlist=None,
          keep_seed_pins=False, platforms=None, resolve=True, interpreters=None, pyenv_root=None,
          state_dir=None, proof_timeout=900, check_mode=False):
    """Decide whether the lock ``entries`` can move to each of ``targets``, and what makes it move.

    :param python: the venv's interpreter (str), with pip installed.
    :param entries: lock entries (``_lock.parse_lock`` or ``describe_live``).
    :param targets: list of "X.Y" or "X.Y.Z".
    :param installer_options: the installer and index options (see ``_installer``); the
        probe reads the same index, extra indexes and find-links the rebuild would use.
    :param which: callable name -> path, to build the ``Installer``.
    :param upgrades: requirement strings replacing pins, as for ``venv_rebuild``.
    :param allowlist: list of dicts (name, optional version and target, reason).
    :param platforms: platform tags; default this host's.
    :param resolve: resolve each target's set with pip's resolver (and move the pins the
        fixes' requirements exclude).
    :param interpreters: target -> interpreter path, for the sdist builds (``_proof.Prover``).
    :param pyenv_root: where the other targets' interpreters are looked up.
    :param state_dir: the proof cache goes to ``<state_dir>/sdist-proofs.json``; None: no cache.
    :param proof_timeout: seconds one sdist build may take.
    :param check_mode: build the proofs but do not write the cache.
    :returns: dict: ``targets``, ``platforms``, ``packages`` (per package the probe's
        verdict per target with ``proof`` and ``fix``), ``resolution``, ``proofs`` (every
        build verdict, see ``_proof.Prover.prove``), ``remediation`` (target -> see
        ``_fixes.remediation``) plus what :func:`assess` returns.
    :raises Oxzep7Error: on bad targets, a failed probe, an unreadable index or proof cache.
    """
    targets = check_targets(targets)
    plan = plan_install(entries, upgrades or [], keep_seed_pins, allow_unreproducible=True)
    original = dict((canonical_name(e["name"]), e["version"]) for e in entries)
    locked = dict((canonical_name(e["name"]), e["version"]) for e in entries if e["kind"] == "pin")
    installer = Installer(dict(installer_options, installer="pip"), which)
    builder = Installer(installer_options, which)  # the rebuild's installer, which builds the sdists
    pins = _probe_pins(plan["entries"], locked)
    if builder.name == "uv" and "pip" not in [canonical_name(p["name"]) for p in pins]:
        # uv venv --seed installs pip from the index (python -m venv brings it offline with ensurepip)
        pins.append(dict(name="pip", version=None, kind="pin", url=None, requirement="pip", base=None))
    default = None if installer_options.get("no_index") or installer_options.get("index_url") \
        else pip_default_index(runner, python, installer)
    wanted = fetch_sources(sources(installer_options, default), [p["name"] for p in pins if p["kind"] == "pin"])
    prover = Prover(runner, builder, interpreters, pyenv_root,
                    os.path.join(state_dir, CACHE_FILE) if state_dir else None, None, proof_timeout)
    pythons = target_pythons(runner, prover, targets)
    answer = run_probe(runner, python, "packages", dict(
        pins=pins, targets=targets, platforms=platforms, sources=wanted, pythons=pythons,
        allow_sdist=not installer_options.get("only_binary")))
    prover.platform = answer["platforms"][0]
    for pkg in answer["packages"]:
        for target in targets:
            verdict = pkg["targets"][target]
            if verdict["status"] == "sdist":
                verdict["proof"] = prover.prove(pkg["name"], verdict["version"], target)
            verdict["fix"] = None if installable(verdict) or pkg["kind"] != "pin" else choose_fix(
                pkg["name"], verdict["releases"], target, prover)
    if not check_mode:
        prover.save()
    plans = dict((t, planned(answer["packages"], t)) for t in targets)
    workdir = tempfile.mkdtemp(prefix="oxzep7-compat-")
    try:
        # a locked project with no build for a target is that project's own inhibitor, not a new
        # dependency; one whose line a marker leaves out there is one the rebuild may have to add
        ignored = dict((t, set(canonical_name(p["name"]) for p in answer["packages"]
                               if p["targets"][t]["status"] != "excluded") | set(plan["upgraded"])) for t in targets)
        resolution = _resolve_targets(runner, python, installer, plans, targets, answer["platforms"], wanted, workdir,
                                      resolve, ignored, pythons)
    finally:
        remove_tree(workdir, os.path.dirname(workdir))
    for outcome in resolution:
        _attach_moves(answer["packages"], outcome["target"], outcome["moves"])
    verdict = assess(answer["packages"], targets, allowlist or [], plan["upgraded"], original, resolution,
                     plan["unreproducible"], pythons)
    verdict["cautions"] += seed_cautions(plan["skipped_seed"], original, [
        o["target"] for o in resolution if "setuptools" not in [a["name"] for a in o["added"] if a["version"]]])
    upgrade_lines = dict((canonical_name(e["name"]), e["line"]) for e in plan["entries"] if e["kind"] == "upgrade")
    remediations = {}
    for outcome in resolution:
        target = outcome["target"]
        blocked = [dict(name=i["name"], message=i["message"]) for i in verdict["inhibitors"]
                   if i["target"] == target and not i.get("fix")
                   and i["check"] not in ("resolution", "conflict", "new_dependency")]
        remediations[target] = remediation(answer["packages"], target, plans[target], outcome, original,
                                           upgrade_lines, blocked)
    return dict(verdict, targets=targets, platforms=answer["platforms"], packages=answer["packages"],
                resolution=resolution, proofs=prover.proofs, remediation=remediations)


def target_pythons(runner, prover, targets):
    """The version of each ``X.Y`` target's interpreter installed on this host: the one the sdist
    builds use (``_proof.Prover.interpreter``: O(interpreters), else the newest ``X.Y.*`` under
    the pyenv root), as the rebuild picks it. It is the lowest patch release the rebuild can get
    (``_probe.python_allows``), and markers' ``python_full_version``; a target with none
    installed stands for its whole minor series.

    :param targets: list of "X.Y" or "X.Y.Z" (an ``X.Y.Z`` target is exact already: left out).
    :returns: dict target -> "X.Y.Z" (str), for the installed ones.
    """
    found = {}
    for target in targets:
        path = prover.interpreter(target) if target.count(".") == 1 else None
        try:
            version = inspect_python(runner, path)["python"]["version"] if path else None
        except Oxzep7Error:
            version = None  # judged as if none were installed: the rebuild's pip has the last word
        if version and version.startswith(target + "."):
            found[target] = version
    return found


def _resolve_targets(runner, python, installer, plans, targets, platforms, wanted, workdir, resolve, ignored,
                     pythons):
    """:func:`_resolve_target` for each of ``targets`` (list of "X.Y"), side by side: each target's
    resolution is its own pip processes on its own files in ``workdir``, and waiting on pip is most of
    a preflight's time (a stepwise check from 3.9 to 3.12 resolves three targets).

    :param plans: target -> :func:`_fixes.planned` (each changed in place by its own resolution only).
    :param resolve: False: no resolution, every outcome ok with nothing checked.
    :param ignored: target -> canonical names the lock has for that target (a requirement on one of
        them is that project's own verdict, never a dependency the rebuild adds).
    :param pythons: target -> the "X.Y.Z" of its newest installed interpreter (:func:`target_pythons`).
    :returns: list of outcomes in the order of ``targets`` (see :func:`_fixes.resolve`).
    :raises Oxzep7Error: the first target's error, as :func:`run_probe` raises it.
    """
    if not resolve:
        return [dict(target=t, ok=True, checked=0, files={}, yanked=[], moves=[], conflicts=[], added=[],
                     python_excluded=[]) for t in targets]
    with ThreadPoolExecutor(max_workers=min(len(targets), MAX_PARALLEL_RESOLUTIONS)) as pool:
        futures = [pool.submit(_resolve_target, runner, python, installer, plans[t], t, platforms, wanted, workdir,
                               ignored[t], pythons.get(t)) for t in targets]
        return [future.result() for future in futures]


def _resolve_target(runner, python, installer, planned_set, target, platforms, wanted, workdir, ignored, installed):
    """``_fixes.resolve`` with pip's resolver and the probe's ``requirements`` command for ``target``;
    ``ignored``: see :func:`_resolve_targets`; ``installed``: the "X.Y.Z" of the target's newest installed
    interpreter, or None."""
    def resolve_wheels(pins, deps=False, constraints=()):
        return pip_resolves(runner, python, installer, pins, target, platforms, workdir, deps=deps,
                            constraints=constraints)

    def check_requirements(items, versions):
        if not items:
            return dict(conflicts=[], added=[], python_excluded=[])
        checked = run_probe(runner, python, "requirements", dict(
            items=items, versions=versions, target=target, python=installed, platforms=platforms, sources=wanted))
        checked["added"] = [a for a in checked["added"] if a["name"] not in ignored]
        return checked

    return resolve(resolve_wheels, check_requirements, planned_set)


def _attach_moves(packages, target, moves):
    """Add each forced move to the ``moves`` of the fix that forced it (the requirer's)."""
    fixes = dict((canonical_name(p["name"]), p["targets"][target].get("fix")) for p in packages)
    for move in moves:
        fix = fixes.get(move["requirer"])
        if fix is not None and not move["as_is"]:
            fix["moves"].append(move)


def live_venv(module):
    """``(layout, runner, python, facts)`` of the live venv at an ``AnsibleModule``'s ``path``.

    :raises Oxzep7Error: when there is no venv there.
    """
    layout = Layout(module.params["path"])
    live = layout.live_path()
    if live is None:
        raise Oxzep7Error("there is no venv at %s" % layout.stable)
    runner = module_runner(module)
    return layout, runner, python_of(live), inspect_python(runner, python_of(live))


def run_compat_check(module):
    """The module ``compat_check``: can the venv's lock be installed on each target."""
    p = module.params
    layout, runner, python, facts = live_venv(module)
    entries = (read_lock_entries(runner, layout, p["lock"]) if p["lock"]
               else describe_live(runner, layout, facts)["entries"])
    result = check(runner, python, entries, p["targets"], installer_options(module), module_which(module),
                   upgrades=p["upgrades"], allowlist=p["allowlist"], keep_seed_pins=p["keep_seed_pins"],
                   platforms=p["platforms"] or None, resolve=p["resolve"], interpreters=p["interpreters"],
                   pyenv_root=p["pyenv_root"], state_dir=p["state_dir"], proof_timeout=p["proof_timeout"],
                   check_mode=module.check_mode)
    result.update(changed=False, python_version=facts["python"]["version"], inhibited=bool(result["inhibitors"]))
    return redact(result)
