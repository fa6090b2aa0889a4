"""Credentials in index URLs never reach results, messages, verbose output or a command line."""

import base64
import functools
import http.server
import os
import shutil
import tempfile
import threading

import pytest

from helpers import run_module
from support import UV

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error, Runner
from ansible_collections.oxzep7.python.plugins.module_utils._installer import Installer, split_credentials

LOGIN, PASSWORD = "ci-user", "s3cret-pass"


def test_index_password_is_masked_everywhere(app_venv, new_python):
    args = dict(path=app_venv, interpreter=new_python, installer="pip", isolated=True, release_id="creds",
                index_url="http://%s:%s@127.0.0.1:9/simple" % (LOGIN, PASSWORD),
                extra_index_urls=["http://other:an0ther@127.0.0.2:9/simple"],
                environment={"PIP_RETRIES": "0", "PIP_TIMEOUT": "1", "APP_DEPLOY_TOKEN": "t0ken-value",
                             "PIP_EXTRA_INDEX_URL": "http://a:envpass1@127.0.0.3:9/simple "
                                                    "http://b:envpass2@127.0.0.4:9/simple"},
                state_dir=os.path.dirname(app_venv))
    proc = run_module("venv_rebuild", args)
    assert proc.returncode != 0 and "installing the lock with pip failed" in proc.stdout, proc.stdout[-3000:]
    assert PASSWORD not in proc.stdout and "an0ther" not in proc.stdout
    # secrets in environment variables: URL credentials (several in one value) and a variable named like one
    assert "APP_DEPLOY_TOKEN" in proc.stdout and "PIP_EXTRA_INDEX_URL" in proc.stdout  # the invocation, masked
    for secret in ("t0ken-value", "envpass1", "envpass2"):
        assert secret not in proc.stdout, secret
    # the failing command names the index without any user:password part
    assert "http://127.0.0.1:9/simple" in proc.stdout
    assert not os.path.exists(os.path.join(os.path.dirname(app_venv), ".venv.releases", "creds"))


@pytest.mark.parametrize("module,extra", [
    ("venv_preflight", dict(check_disk=False, packages={})),  # no code_paths, no package check: no installer
    ("venv_rebuild", dict(state="absent", release_id="gone")),
])
def test_password_masked_on_branches_that_never_install(app_venv, module, extra):
    args = dict(path=app_venv, index_url="http://%s:%s@127.0.0.1:9/simple" % (LOGIN, PASSWORD), **extra)
    if module == "venv_preflight":
        args["targets"] = ["3.12"]
    proc = run_module(module, args)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "index_url" in proc.stdout  # the invocation is printed, masked
    assert PASSWORD not in proc.stdout


class _AuthHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a wheel directory only to requests with the right Basic credentials; counts them."""

    seen = None

    def do_GET(self):  # noqa: N802 - http.server's name
        want = "Basic " + base64.b64encode(("%s:%s" % (LOGIN, PASSWORD)).encode()).decode()
        if self.headers.get("Authorization") != want:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="wheels"')
            self.end_headers()
            return
        self.seen.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def private_wheels(tmp_path, wheelhouse):
    """A find-links page on 127.0.0.1 that needs a login, holding one pure-Python wheel."""
    site = tmp_path / "site"
    site.mkdir()
    wheel = [n for n in os.listdir(wheelhouse) if n.startswith("blinker-")][0]
    shutil.copy(os.path.join(wheelhouse, wheel), str(site))
    seen = []
    handler = type("Handler", (_AuthHandler,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://%s:%s@127.0.0.1:%d/" % (LOGIN, PASSWORD, server.server_address[1]), seen
    server.shutdown()
    server.server_close()


class RecordingRunner(Runner):
    """A real Runner that also keeps every argv and the NETRC file it was given."""

    def __init__(self):
        super().__init__()
        self.argvs, self.netrcs = [], []

    def run(self, argv, cwd=None, env=None, check=True, what=None, **kwargs):
        self.argvs.append([str(a) for a in argv])
        self.netrcs.append((env or {}).get("NETRC"))
        if self.netrcs[-1]:
            assert os.stat(self.netrcs[-1]).st_mode & 0o777 == 0o600
        return super().run(argv, cwd=cwd, env=env, check=check, what=what, **kwargs)


@pytest.mark.parametrize("tool", ["pip", "uv"])
def test_credentials_go_through_a_private_netrc_never_argv(tmp_path, monkeypatch, new_python, private_wheels, tool):
    url, seen = private_wheels
    scratch = tmp_path / "tmp"  # this test's own temporary directory: other workers make netrc files too
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    venv = str(tmp_path / "venv")
    runner = RecordingRunner()
    installer = Installer(dict(installer=tool, uv_path=UV if tool == "uv" else None, no_index=True,
                               find_links=[url], isolated=True), shutil.which)
    installer.create_venv(runner, new_python, venv, seed=tool == "pip")
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("blinker==1.7.0\n")
    installer.install(runner, os.path.join(venv, "bin", "python"), str(reqs))
    assert any("blinker" in path for path in seen), seen  # the wheel came through the login
    assert os.path.isdir(os.path.join(venv, "lib", "python3.12", "site-packages", "blinker"))
    flat = " ".join(" ".join(argv) for argv in runner.argvs)
    assert PASSWORD not in flat and LOGIN not in flat
    assert url.replace("%s:%s@" % (LOGIN, PASSWORD), "") in flat
    used = [n for n in runner.netrcs if n]
    assert used and not any(os.path.exists(n) or os.path.exists(os.path.dirname(n)) for n in used)
    assert all(os.path.dirname(os.path.dirname(n)) == str(scratch) for n in used)
    assert not os.listdir(str(scratch))


def test_credentials_netrc_cannot_carry_are_refused_without_echoing_them():
    with pytest.raises(Oxzep7Error) as err:
        Installer(dict(installer="pip", index_url="https://u:pa%20ss@idx.example/simple"), shutil.which)
    assert "idx.example" in err.value.msg and "pa ss" not in err.value.msg and "pa%20ss" not in err.value.msg
    assert split_credentials("https://u:p%40x@h.example:8443/simple") == (
        "https://h.example:8443/simple", ("h.example", "u", "p@x"))
    with pytest.raises(Oxzep7Error) as err:
        Installer(dict(installer="pip", index_url="https://a:one@idx.example/simple",
                       extra_index_urls=["https://b:two@idx.example/other"]), shutil.which)
    assert "two different credentials for idx.example" in err.value.msg
    assert split_credentials("/srv/wheelhouse") == ("/srv/wheelhouse", None)
