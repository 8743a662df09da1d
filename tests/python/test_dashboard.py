"""The dashboard in headless Chromium (tests/ui/dashboard.test.mjs) against the real gateway.

The gateway first serves a priced and an unpriced request, so the page has rows to show;
then Node's test runner drives Chromium through playwright-core and checks what a user sees.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import openai
import pytest

REPO = Path(__file__).resolve().parents[2]


def test_dashboard_in_chromium(gateway):
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        pytest.fail(f"{chromium} is missing: install Debian's chromium (scripts/install-deps test does)")
    if not (REPO / "tests/ui/node_modules/playwright-core").exists():
        pytest.fail("tests/ui/node_modules is missing: run `npm ci` in tests/ui (scripts/install-deps test does)")
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=gateway.key, max_retries=0)
    client.chat.completions.create(model="oai/gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    client.chat.completions.create(model="local/llama3.2", messages=[{"role": "user", "content": "hi"}])

    # Records are written in the background: wait until the count settles.
    seen, stable_since = None, time.monotonic()
    while time.monotonic() - stable_since < 1.0:
        count = gateway.admin("/api/status")["today"]["requests"]
        if count != seen:
            seen, stable_since = count, time.monotonic()
        time.sleep(0.1)

    token = (Path(gateway.data_dir) / "admin-token").read_text().strip()
    env = {
        **os.environ,
        "SWITCHYARD_URL": gateway.url,
        "SWITCHYARD_ADMIN_TOKEN": token,
        "SWITCHYARD_EXPECT_REQUESTS": str(seen),
        "SWITCHYARD_EXPECT_MODEL": "oai/gpt-4.1",
        "SWITCHYARD_EXPECT_UNPRICED_MODEL": "local/llama3.2",
        "CHROMIUM": chromium,
    }
    node = shutil.which("node") or "node"
    result = subprocess.run(
        [node, "--test", "--test-reporter=spec", str(REPO / "tests/ui/dashboard.test.mjs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(result.stdout[-6000:])
    print(result.stderr[-3000:])
    assert result.returncode == 0, "dashboard tests failed (output above)"
