"""Real coding agents through the gateway, offline, each on a provider of another format:
Claude Code (Anthropic messages) on an OpenAI-format model, Codex CLI (OpenAI Responses)
on an Anthropic-format model. The mock's `agent` model asks the agent to read a file with
its own tool, so every run includes a tool call and its result going back.
"""

import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "tests/agents/node_modules/.bin"


def agent(name):
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `npm ci` in tests/agents (scripts/install-deps test does)")
    return str(path)


def records_for(gateway, model, at_least):
    """The logged requests for `model`, once there are `at_least` of them (the log is
    written off the request path, so the last one can land just after the agent exits)."""
    rows = []
    for _ in range(100):
        rows = [r for r in gateway.admin("/api/requests?limit=200")["requests"] if r["requested_model"] == model]
        if len(rows) >= at_least:
            break
        time.sleep(0.1)
    return rows


def secret_file():
    folder = Path(tempfile.mkdtemp(prefix="switchyard-agent-"))
    word = f"secret-{os.getpid()}-{int(time.time())}"
    (folder / "note.txt").write_text(word + "\n")
    return folder, folder / "note.txt", word


def test_claude_code_on_an_openai_format_model(gateway):
    folder, path, word = secret_file()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),
        "ANTHROPIC_BASE_URL": gateway.url,
        "ANTHROPIC_AUTH_TOKEN": gateway.key,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "oai/agent",
        "ANTHROPIC_SMALL_FAST_MODEL": "oai/agent",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    result = subprocess.run(
        [agent("claude"), "-p", f"Read the file {path} and tell me what it says", "--model", "oai/agent"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert word in result.stdout, result.stdout[-3000:]
    rows = records_for(gateway, "oai/agent", at_least=2)
    assert any(r["tool_calls"] == ["Read"] for r in rows), rows
    assert all(r["client_api"] == "anthropic-messages" and r["status"] == 200 for r in rows)
    assert not any(r["error_kind"] for r in rows), rows
    assert len(rows) >= 2, "the tool's result went back in a second request"


def test_codex_on_an_anthropic_format_model(gateway):
    folder, path, word = secret_file()
    codex_home = folder / "codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(
        f"""model_provider = "switchyard"
model = "ant/agent"

[model_providers.switchyard]
name = "Switchyard"
base_url = "{gateway.url}/v1"
wire_api = "responses"
env_key = "SWITCHYARD_API_KEY"
"""
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),
        "CODEX_HOME": str(codex_home),
        "SWITCHYARD_API_KEY": gateway.key,
    }
    result = subprocess.run(
        [agent("codex"), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
         f"Read the file {path} and tell me what it says"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert word in result.stdout, result.stdout[-3000:]
    rows = records_for(gateway, "ant/agent", at_least=2)
    assert any(r["tool_calls"] for r in rows), rows
    assert all(r["client_api"] == "openai-responses" and r["status"] == 200 for r in rows)
    assert len(rows) >= 2, "the tool's result went back in a second request"
