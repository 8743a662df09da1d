"""The tray app (`switchyard-desktop`) under Xvfb: its embedded gateway answers, serves the
dashboard and the admin API, and the app stops cleanly on SIGTERM.

Needs the built binary (`cargo build -p switchyard-desktop`), xvfb-run and dbus-run-session.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_process(session, binary):
    """The pid of `binary` among the processes of the test's session."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getsid(int(pid)) == session and os.path.realpath(f"/proc/{pid}/exe") == str(binary.resolve()):
                return int(pid)
        except OSError:
            continue
    return None


def get(url, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
        return r.status, r.read().decode()


def test_desktop_app_serves_the_gateway_and_stops_on_sigterm():
    binary = Path(os.environ.get("SWITCHYARD_DESKTOP_BIN", TARGET / "switchyard-desktop"))
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run `cargo build -p switchyard-desktop` first")
    for tool in ("xvfb-run", "dbus-run-session"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: install xvfb and dbus (scripts/install-deps test does)")

    home = tempfile.mkdtemp(prefix="switchyard-desktop-home-")
    data = tempfile.mkdtemp(prefix="switchyard-desktop-data-")
    port = free_port()
    env = {**os.environ, "HOME": home, "SWITCHYARD_DATA_DIR": data, "SWITCHYARD_LISTEN": f"127.0.0.1:{port}"}
    env.pop("DISPLAY", None)
    log = open(Path(home) / "desktop.log", "w+")
    proc = subprocess.Popen(
        ["dbus-run-session", "--", "xvfb-run", "-a", "-s", "-screen 0 1280x800x24", str(binary)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, body = get(base + "/health")
                if status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"the desktop app's gateway never answered:\n{log.read()[-4000:]}")
            time.sleep(0.25)
        assert json.loads(body)["status"] == "ok"

        status, page = get(base + "/ui/")
        assert status == 200 and "Switchyard" in page

        token = (Path(data) / "admin-token").read_text().strip()
        status, body = get(base + "/api/status", token)
        assert json.loads(body)["base_url"] == base

        # SIGTERM to the app itself; its wrappers (xvfb-run, dbus-run-session) end with it.
        app_pid = app_process(proc.pid, binary)
        assert app_pid, "the app's process was not found"
        os.kill(app_pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("the desktop app did not stop within 15 s of SIGTERM")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
