"""Provider keys in a real OS keychain: `switchyard secret set` stores a key in the Secret
Service (gnome-keyring, started for the test on its own D-Bus session), and the gateway
sends it to the provider, while the database never holds it.
"""

import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from conftest import binary

SCRIPT = textwrap.dedent(
    """
    set -e
    eval "$(printf pw | gnome-keyring-daemon --unlock --components=secrets)"
    export SWITCHYARD_DATA_DIR="$DATA"
    printf 'sk-from-the-keychain-1234' | "$SWITCHYARD" secret set mock-key
    MOCK_REQUIRE_KEY=sk-from-the-keychain-1234 "$MOCK" > "$DATA/mock.out" &
    MOCK_PID=$!
    for i in $(seq 100); do grep -q http "$DATA/mock.out" 2>/dev/null && break; sleep 0.05; done
    MOCK_URL=$(grep -o 'http://[0-9.:]*' "$DATA/mock.out")
    printf '[[providers]]\\nname = "kc"\\nkind = "openai"\\nbase_url = "%s/v1"\\napi_key = { keyring = "mock-key" }\\n' "$MOCK_URL" > "$DATA/c.toml"
    "$SWITCHYARD" apply "$DATA/c.toml" > /dev/null
    KEY=$("$SWITCHYARD" key create kc 2>/dev/null)
    "$SWITCHYARD" serve --listen 127.0.0.1:0 > "$DATA/serve.out" &
    SERVE_PID=$!
    for i in $(seq 100); do grep -q http "$DATA/serve.out" 2>/dev/null && break; sleep 0.05; done
    URL=$(grep -o 'http://[0-9.:]*' "$DATA/serve.out" | head -1)
    curl -s -o /dev/null -w '%{http_code}\\n' "$URL/v1/chat/completions" \\
        -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\
        -d '{"model": "kc/gpt-4.1", "messages": []}'
    kill $SERVE_PID $MOCK_PID
    wait $SERVE_PID || true
    """
)


def test_secret_set_stores_in_the_keychain_and_the_gateway_uses_it():
    for tool in ("dbus-run-session", "gnome-keyring-daemon", "curl"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing (scripts/install-deps test installs it)")
    data = tempfile.mkdtemp(prefix="switchyard-keychain-")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": data,
        "DATA": data,
        "SWITCHYARD": binary("switchyard"),
        "MOCK": binary("mock-upstream"),
    }
    result = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "200", result.stdout + result.stderr[-3000:]
    db = (Path(data) / "switchyard.db").read_bytes()
    assert b"sk-from-the-keychain-1234" not in db
