"""The tray app (`switchyard-desktop`) under Xvfb: its embedded gateway answers, serves the
dashboard and the admin API, and the app stops cleanly on SIGTERM; with its port taken it
stays up (showing why in its window) instead of crashing.

Needs the built binary (`cargo build -p switchyard-desktop`), xvfb-run and dbus-run-session.
With ImageMagick's `import` installed, the screen is saved to /tmp/desktop*.png.
"""

import contextlib
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


def screenshot(app_pid, path):
    """Saves the app's X display (Xvfb) to `path`; does nothing without ImageMagick."""
    if not shutil.which("import"):
        return
    environ = Path(f"/proc/{app_pid}/environ").read_bytes().split(b"\0")
    env = dict(v.decode().split("=", 1) for v in environ if b"=" in v)
    subprocess.run(
        ["import", "-window", "root", path],
        env={**os.environ, "DISPLAY": env.get("DISPLAY", ""), "XAUTHORITY": env.get("XAUTHORITY", "")},
        timeout=30,
        check=False,
    )


class App:
    def __init__(self, proc, binary, data, log):
        self.proc, self.binary, self.data, self.log = proc, binary, data, log

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def pid(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pid = app_process(self.proc.pid, self.binary)
            if pid:
                return pid
            time.sleep(0.1)
        pytest.fail(f"the app's process was not found:\n{self.output()}")

    def stop(self):
        """SIGTERM to the app itself; its wrappers (xvfb-run, dbus-run-session) end with it."""
        os.kill(self.pid(), signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the desktop app did not stop within 15 s of SIGTERM:\n{self.output()}")
        assert code == 0, f"exit code {code}:\n{self.output()}"


@contextlib.contextmanager
def desktop_app(port):
    binary = Path(os.environ.get("SWITCHYARD_DESKTOP_BIN", TARGET / "switchyard-desktop"))
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run `cargo build -p switchyard-desktop` first")
    for tool in ("xvfb-run", "dbus-run-session"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: install xvfb and dbus (scripts/install-deps test does)")

    home = tempfile.mkdtemp(prefix="switchyard-desktop-home-")
    data = tempfile.mkdtemp(prefix="switchyard-desktop-data-")
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
    try:
        yield App(proc, binary, Path(data), log)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


def test_desktop_app_serves_the_gateway_and_stops_on_sigterm():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with desktop_app(port) as app:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, body = get(base + "/health")
                if status == 200:
                    break
            except OSError:
                pass
            if app.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the desktop app's gateway never answered:\n{app.output()}")
            time.sleep(0.25)
        assert json.loads(body)["status"] == "ok"

        status, page = get(base + "/ui/")
        assert status == 200 and "Switchyard" in page

        token = (app.data / "admin-token").read_text().strip()
        status, body = get(base + "/api/status", token)
        assert json.loads(body)["base_url"] == base

        time.sleep(3)  # let the window render the dashboard
        screenshot(app.pid(), "/tmp/desktop.png")
        app.stop()
        assert "gateway listening" in app.output()


def test_desktop_app_stays_up_when_its_port_is_taken():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with desktop_app(port) as app:
            deadline = time.monotonic() + 90
            while "gateway failed to start" not in app.output():
                if app.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not report the taken port:\n{app.output()}")
                time.sleep(0.25)
            assert "Address already in use" in app.output()
            # The window (a page saying why) and the tray come next; the app must not crash.
            time.sleep(4)
            assert app.proc.poll() is None, f"the app exited:\n{app.output()}"
            screenshot(app.pid(), "/tmp/desktop-failed.png")
            app.stop()
