"""Fixtures for the SDK tests: a mock provider and the real `switchyard serve` binary.

Both binaries come from the Cargo target directory (build them first with
`cargo build -p switchyard-cli -p switchyard-tests`); a missing binary fails the run.
"""

import json
import os
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug"
UPSTREAM_KEY = "upstream-key-for-sdk-tests"


def binary(name: str) -> str:
    path = TARGET / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo build -p switchyard-cli -p switchyard-tests` first")
    return str(path)


def start_and_read_url(args, env):
    """Starts a process that prints `... http://HOST:PORT` on its first line."""
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    if not url.startswith("http://"):
        proc.kill()
        pytest.fail(f"{args[0]} did not print its address: {line!r}")
    return proc, url


class Gateway:
    def __init__(self, url, key, data_dir, env):
        self.url = url
        self.key = key
        self.data_dir = data_dir
        self.env = env

    def admin(self, path):
        token = (Path(self.data_dir) / "admin-token").read_text().strip()
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def cli(self, *args):
        return subprocess.run([binary("switchyard"), *args], env=self.env, capture_output=True, text=True, check=True)


@pytest.fixture(scope="session")
def gateway():
    data_dir = tempfile.mkdtemp(prefix="switchyard-sdk-")
    env = {**os.environ, "SWITCHYARD_DATA_DIR": data_dir, "SDK_TEST_UPSTREAM_KEY": UPSTREAM_KEY}
    env.pop("SWITCHYARD_LISTEN", None)
    mock, mock_url = start_and_read_url([binary("mock-upstream")], env)
    serve = None
    try:
        config = Path(data_dir) / "switchyard.toml"
        config.write_text(
            f"""
[[providers]]
name = "oai"
kind = "openai"
base_url = "{mock_url}/v1"
api_key = {{ env = "SDK_TEST_UPSTREAM_KEY" }}

[[providers]]
name = "ant"
kind = "anthropic"
base_url = "{mock_url}"
api_key = {{ env = "SDK_TEST_UPSTREAM_KEY" }}

[[providers]]
name = "gem"
kind = "gemini"
base_url = "{mock_url}/v1beta"
api_key = {{ env = "SDK_TEST_UPSTREAM_KEY" }}

[[providers]]
name = "local"
kind = "openai-compatible"
base_url = "{mock_url}/v1"
models = ["llama3.2"]
"""
        )
        run = lambda *a: subprocess.run([binary("switchyard"), *a], env=env, capture_output=True, text=True, check=True)
        run("apply", str(config))
        key = run("key", "create", "sdk-tests").stdout.strip()
        serve, url = start_and_read_url([binary("switchyard"), "serve", "--listen", "127.0.0.1:0"], env)
        yield Gateway(url, key, data_dir, env)
    finally:
        for proc in (serve, mock):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
