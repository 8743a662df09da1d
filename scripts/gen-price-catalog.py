#!/usr/bin/env python3
"""Generate Switchyard's built-in price catalog from LiteLLM's price list.

Reads LiteLLM's `model_prices_and_context_window.json` and writes
`crates/switchyard-gateway/data/prices.json`, which the gateway embeds at
compile time (see `crates/switchyard-gateway/src/pricing.rs`).

The output maps "<catalog>/<model id as the provider's API expects it>" (for
example "anthropic/claude-sonnet-4-5", "together/meta-llama/Llama-3.3-70B-Instruct-Turbo")
to the per-token prices and context limits the gateway uses, and nothing else.
It is deterministic (sorted keys, one model per line) so that refreshes diff
cleanly.

Re-run from the repository root after updating the LiteLLM file:

    python3 scripts/gen-price-catalog.py [path/to/model_prices_and_context_window.json]

The input defaults to ../shared/data/model_prices_and_context_window.json
(relative to the repository root). Python 3.11+, standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = REPO_ROOT.parent / "shared" / "data" / "model_prices_and_context_window.json"
OUTPUT = REPO_ROOT / "crates" / "switchyard-gateway" / "data" / "prices.json"

# litellm_provider -> (Switchyard catalog, prefix LiteLLM puts on its keys, prefix of the API's model id).
# Keys are taken with or without LiteLLM's prefix; when both spellings exist, the prefixed one wins.
PROVIDERS: dict[str, tuple[str, str, str]] = {
    "openai": ("openai", "openai/", ""),
    # OpenAI's legacy /v1/completions models (gpt-3.5-turbo-instruct, davinci-002, ...).
    "text-completion-openai": ("openai", "openai/", ""),
    "anthropic": ("anthropic", "anthropic/", ""),
    "xai": ("xai", "xai/", ""),
    "deepseek": ("deepseek", "deepseek/", ""),
    "groq": ("groq", "groq/", ""),
    "mistral": ("mistral", "mistral/", ""),
    "openrouter": ("openrouter", "openrouter/", ""),
    "together_ai": ("together", "together_ai/", ""),
    # Fireworks' API wants "accounts/fireworks/models/<name>"; LiteLLM also lists a few bare names.
    "fireworks_ai": ("fireworks", "fireworks_ai/", "accounts/"),
    "gemini": ("gemini", "gemini/", ""),
}

MODES = {"chat", "responses", "completion", "embedding"}

# LiteLLM keys that are size-based price tiers, not model ids.
TIER_KEY_PREFIXES = ("together-ai-", "fireworks-ai-")

PRICE_FIELDS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
    "input_cost_per_token_above_200k_tokens",
    "output_cost_per_token_above_200k_tokens",
    "cache_read_input_token_cost_above_200k_tokens",
    "cache_creation_input_token_cost_above_200k_tokens",
)
LIMIT_FIELDS = ("max_input_tokens", "max_output_tokens")


def model_id(key: str, litellm_prefix: str, api_prefix: str) -> tuple[str, int]:
    """The provider's model id for a LiteLLM key, and how canonical the key's spelling is.

    Rank 2: LiteLLM's prefix followed by the API's id as is; 1: prefixed, but the id had to be completed;
    0: no LiteLLM prefix. When two keys give the same id, the higher rank wins.
    """
    prefixed = key.startswith(litellm_prefix)
    model = key[len(litellm_prefix):] if prefixed else key
    rank = 2 if prefixed else 0
    if api_prefix == "accounts/" and not model.startswith("accounts/"):
        model = "accounts/fireworks/models/" + model
        rank = min(rank, 1)
    return model, rank


def number(value: object) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def extract(entry: dict) -> dict:
    out: dict = {}
    for field in PRICE_FIELDS:
        value = number(entry.get(field))
        if value is not None and value >= 0:
            out[field] = float(value)
    for field in LIMIT_FIELDS:
        value = number(entry.get(field))
        if value is not None and value > 0 and float(value).is_integer():
            out[field] = int(value)
    return out


def build(source: dict) -> tuple[dict[str, dict], list[str]]:
    catalog: dict[str, dict] = {}
    ranks: dict[str, int] = {}
    notes: list[str] = []
    for key in sorted(source):
        entry = source[key]
        if not isinstance(entry, dict):
            continue
        spec = PROVIDERS.get(entry.get("litellm_provider"))
        if spec is None or entry.get("mode") not in MODES:
            continue
        if key.startswith("ft:") or key.startswith(TIER_KEY_PREFIXES):
            continue
        fields = extract(entry)
        if "input_cost_per_token" not in fields and "output_cost_per_token" not in fields:
            continue
        name, litellm_prefix, api_prefix = spec
        model, rank = model_id(key, litellm_prefix, api_prefix)
        if not model or model.endswith("/") or model != model.strip():
            continue  # malformed key (LiteLLM has e.g. "fireworks_ai/accounts/fireworks/models/")
        out_key = f"{name}/{model}"
        if out_key in catalog:
            # Keys are visited in sorted order, so on a tie the first one seen stays.
            keep_old = ranks[out_key] >= rank
            if catalog[out_key] != fields:
                notes.append(f"{out_key}: {'ignored' if keep_old else 'preferred'} differing entry {key!r}")
            if keep_old:
                continue
        catalog[out_key] = fields
        ranks[out_key] = rank
    return catalog, notes


def render(catalog: dict[str, dict]) -> str:
    lines = [
        json.dumps(key) + ":" + json.dumps(catalog[key], sort_keys=True, separators=(",", ":"))
        for key in sorted(catalog)
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", type=Path, default=DEFAULT_INPUT,
                        help="LiteLLM model_prices_and_context_window.json (default: %(default)s)")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT, help="output file (default: %(default)s)")
    args = parser.parse_args()

    with args.input.open(encoding="utf-8") as f:
        source = json.load(f)
    catalog, notes = build(source)
    for note in notes:
        print("note:", note, file=sys.stderr)

    text = render(catalog)
    json.loads(text)  # sanity check: the output is valid JSON
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")

    counts: dict[str, int] = {}
    for key in catalog:
        name = key.split("/", 1)[0]
        counts[name] = counts.get(name, 0) + 1
    summary = ", ".join(f"{name} {counts[name]}" for name in sorted(counts))
    print(f"wrote {len(catalog)} models ({len(text.encode())} bytes) to {args.output}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
