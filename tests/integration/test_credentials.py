"""Credentials in index URLs never reach results, messages or verbose output of a module run."""

import json
import os
import subprocess

from helpers import BIN, ROOT


def test_index_password_is_masked_everywhere(app_venv, new_python):
    args = dict(path=app_venv, interpreter=new_python, installer="pip", isolated=True, release_id="creds",
                index_url="http://ci-user:s3cret-pass@127.0.0.1:9/simple",
                extra_index_urls=["http://other:an0ther@127.0.0.1:9/simple"],
                environment={"PIP_RETRIES": "0", "PIP_TIMEOUT": "1"}, state_dir=os.path.dirname(app_venv))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")
    proc = subprocess.run([os.path.join(BIN, "ansible"), "localhost", "-vvv", "-m", "oxzep7.python.venv_rebuild",
                           "-a", json.dumps(args), "-e", "ansible_python_interpreter=" + os.path.join(BIN, "python")],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False)
    assert proc.returncode != 0 and "installing the lock with pip failed" in proc.stdout, proc.stdout[-3000:]
    assert "s3cret-pass" not in proc.stdout and "an0ther" not in proc.stdout
    # the URL stays recognisable; only its user:password part is gone
    assert "http://***@127.0.0.1:9/simple" in proc.stdout
    assert not os.path.exists(os.path.join(os.path.dirname(app_venv), ".venv.releases", "creds"))
