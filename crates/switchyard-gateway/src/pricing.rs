//! Model prices and the cost of a request.
//!
//! The built-in catalog (`data/prices.json`) is generated from LiteLLM's price list by
//! `scripts/gen-price-catalog.py` and embedded at compile time. Keys are
//! `"<catalog>/<model id as the provider's API expects it>"`, e.g. `anthropic/claude-sonnet-4-5` or
//! `together/meta-llama/Llama-3.3-70B-Instruct-Turbo`; prices are USD per token.
//!
//! [`PriceCatalog::lookup`] finds a model's price, tolerating case differences, unknown
//! snapshot dates and `-latest` aliases. [`ModelPrice::overlaid_on`] layers a user's override on a
//! catalog entry, and [`cost_usd`] turns a request's [`TokenCounts`] into dollars.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use switchyard_store::TokenCounts;

/// Requests whose input (cached or not) exceeds this many tokens are billed at the
/// `*_above_200k_tokens` prices, for the whole request, when the model has them.
pub const LONG_CONTEXT_THRESHOLD: u64 = 200_000;

/// The price of one model, in USD per token, and its context limits. Every field is optional:
/// an unset field is unknown (or, in an override, "keep the catalog's value").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Uncached input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    /// All output, reasoning included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    /// Input read from the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost: Option<f64>,
    /// Input written to the prompt cache with the default (5-minute) lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost: Option<f64>,
    /// Input written to the prompt cache with a 1-hour lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost_above_1hr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token_above_200k_tokens: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token_above_200k_tokens: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost_above_200k_tokens: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost_above_200k_tokens: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
}

impl ModelPrice {
    /// This price layered on `base`: every field set here wins, the others come from `base`.
    pub fn overlaid_on(&self, base: Option<&ModelPrice>) -> ModelPrice {
        let Some(base) = base else {
            return self.clone();
        };
        ModelPrice {
            input_cost_per_token: self.input_cost_per_token.or(base.input_cost_per_token),
            output_cost_per_token: self.output_cost_per_token.or(base.output_cost_per_token),
            cache_read_input_token_cost: self
                .cache_read_input_token_cost
                .or(base.cache_read_input_token_cost),
            cache_creation_input_token_cost: self
                .cache_creation_input_token_cost
                .or(base.cache_creation_input_token_cost),
            cache_creation_input_token_cost_above_1hr: self
                .cache_creation_input_token_cost_above_1hr
                .or(base.cache_creation_input_token_cost_above_1hr),
            input_cost_per_token_above_200k_tokens: self
                .input_cost_per_token_above_200k_tokens
                .or(base.input_cost_per_token_above_200k_tokens),
            output_cost_per_token_above_200k_tokens: self
                .output_cost_per_token_above_200k_tokens
                .or(base.output_cost_per_token_above_200k_tokens),
            cache_read_input_token_cost_above_200k_tokens: self
                .cache_read_input_token_cost_above_200k_tokens
                .or(base.cache_read_input_token_cost_above_200k_tokens),
            cache_creation_input_token_cost_above_200k_tokens: self
                .cache_creation_input_token_cost_above_200k_tokens
                .or(base.cache_creation_input_token_cost_above_200k_tokens),
            max_input_tokens: self.max_input_tokens.or(base.max_input_tokens),
            max_output_tokens: self.max_output_tokens.or(base.max_output_tokens),
        }
    }

    fn has_long_context_prices(&self) -> bool {
        self.input_cost_per_token_above_200k_tokens.is_some()
            || self.output_cost_per_token_above_200k_tokens.is_some()
            || self.cache_read_input_token_cost_above_200k_tokens.is_some()
            || self
                .cache_creation_input_token_cost_above_200k_tokens
                .is_some()
    }
}

/// A set of model prices keyed by `"<catalog>/<model>"`.
#[derive(Clone, Debug, Default)]
pub struct PriceCatalog {
    prices: HashMap<String, ModelPrice>,
    /// Lower-cased key -> key (the first in sorted order when several differ only in case).
    folded: HashMap<String, String>,
    /// Lower-cased key with its date suffix removed -> (date digits, key) of the newest such snapshot.
    newest_snapshot: HashMap<String, (String, String)>,
}

static BUILTIN_JSON: &str = include_str!("../data/prices.json");

impl PriceCatalog {
    /// The catalog compiled into the binary, parsed on first use. If it cannot be parsed (a
    /// broken regeneration), the error is logged and the catalog is empty: costs become unknown.
    pub fn builtin() -> &'static PriceCatalog {
        static BUILTIN: OnceLock<PriceCatalog> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            PriceCatalog::from_json(BUILTIN_JSON).unwrap_or_else(|error| {
                tracing::error!(%error, "the built-in price catalog is invalid; no model has a known price");
                PriceCatalog::default()
            })
        })
    }

    /// Parse a catalog in the format of `data/prices.json`.
    pub fn from_json(text: &str) -> Result<PriceCatalog, serde_json::Error> {
        let entries: BTreeMap<String, ModelPrice> = serde_json::from_str(text)?;
        Ok(PriceCatalog::from_entries(entries))
    }

    fn from_entries(entries: BTreeMap<String, ModelPrice>) -> PriceCatalog {
        let mut folded = HashMap::with_capacity(entries.len());
        let mut newest_snapshot: HashMap<String, (String, String)> = HashMap::new();
        // Sorted iteration keeps the choices below deterministic.
        for key in entries.keys() {
            let lower = key.to_lowercase();
            if let Some((base, date)) = split_date_suffix(&lower) {
                let candidate = (date, key.clone());
                match newest_snapshot.get(base) {
                    Some(current) if current.0 >= candidate.0 => {}
                    _ => {
                        newest_snapshot.insert(base.to_owned(), candidate);
                    }
                }
            }
            folded.entry(lower).or_insert_with(|| key.clone());
        }
        PriceCatalog {
            prices: entries.into_iter().collect(),
            folded,
            newest_snapshot,
        }
    }

    /// Number of models in the catalog.
    pub fn len(&self) -> usize {
        self.prices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// The model ids of one catalog (`"openai"` gives `gpt-4.1`, ...), in no set order.
    pub fn models_of<'a>(&'a self, catalog: &'a str) -> impl Iterator<Item = String> + 'a {
        self.prices.keys().filter_map(move |key| {
            key.strip_prefix(catalog)
                .and_then(|rest| rest.strip_prefix('/'))
                .map(str::to_string)
        })
    }

    /// The price of `model` in `catalog` (e.g. `"anthropic"`, `"claude-sonnet-4-5-20250929"`).
    ///
    /// Tried in order: the exact key; the key ignoring case; the model without a trailing
    /// snapshot date (`-20250929`, `-2025-04-14`); for `<name>-latest`, `<name>` itself or else
    /// its newest dated snapshot (`claude-3-7-sonnet-latest` -> `claude-3-7-sonnet-20250219`).
    pub fn lookup(&self, catalog: &str, model: &str) -> Option<&ModelPrice> {
        let key = qualified_model(catalog, model);
        if let Some(price) = self.prices.get(&key) {
            return Some(price);
        }
        let lower = key.to_lowercase();
        if let Some(price) = self.get_folded(&lower) {
            return Some(price);
        }
        if let Some((base, _)) = split_date_suffix(&lower) {
            if let Some(price) = self.get_folded(base) {
                return Some(price);
            }
        }
        if let Some(base) = lower.strip_suffix("-latest") {
            return self.get_folded(base).or_else(|| {
                let (_, key) = self.newest_snapshot.get(base)?;
                self.prices.get(key)
            });
        }
        None
    }

    fn get_folded(&self, lower: &str) -> Option<&ModelPrice> {
        self.folded.get(lower).and_then(|key| self.prices.get(key))
    }
}

/// `prefix/model`, as price tables name a model (the prefix is a catalog or a
/// provider). Built by hand: `format!` cost ten times as much, on every request.
pub fn qualified_model(prefix: &str, model: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + 1 + model.len());
    key.push_str(prefix);
    key.push('/');
    key.push_str(model);
    key
}

/// Split `name-20250929` or `name-2025-04-14` into `("name", "20250929")` / `("name", "20250414")`.
fn split_date_suffix(name: &str) -> Option<(&str, String)> {
    let bytes = name.as_bytes();
    let all_digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    // `-YYYYMMDD`
    if bytes.len() > 9 {
        let at = bytes.len() - 9;
        if bytes[at] == b'-' && all_digits(&bytes[at + 1..]) {
            return Some((&name[..at], name[at + 1..].to_owned()));
        }
    }
    // `-YYYY-MM-DD`
    if bytes.len() > 11 {
        let at = bytes.len() - 11;
        let s = &bytes[at..];
        if s[0] == b'-'
            && s[5] == b'-'
            && s[8] == b'-'
            && all_digits(&s[1..5])
            && all_digits(&s[6..8])
            && all_digits(&s[9..11])
        {
            let date = format!(
                "{}{}{}",
                &name[at + 1..at + 5],
                &name[at + 6..at + 8],
                &name[at + 9..]
            );
            return Some((&name[..at], date));
        }
    }
    None
}

/// Per-token rates for each token bucket of one request. `None`: no price known for the bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rates {
    input: Option<f64>,
    cache_read: Option<f64>,
    cache_write_5m: Option<f64>,
    cache_write_1h: Option<f64>,
    output: Option<f64>,
}

impl Rates {
    /// Standard rates. Fallbacks for prices the catalog doesn't list:
    /// - cache reads and 5-minute cache writes cost the same as uncached input (providers that
    ///   list no separate price don't discount or surcharge them);
    /// - 1-hour cache writes cost 2× the input price when the model has a separate 5-minute write
    ///   price (Anthropic's rule: 5 min = 1.25×, 1 h = 2× input), else the input price.
    fn standard(price: &ModelPrice) -> Rates {
        let input = price.input_cost_per_token;
        let cache_write_1h =
            price.cache_creation_input_token_cost_above_1hr.or_else(|| {
                match price.cache_creation_input_token_cost {
                    Some(_) => input.map(|rate| 2.0 * rate),
                    None => input,
                }
            });
        Rates {
            input,
            cache_read: price.cache_read_input_token_cost.or(input),
            cache_write_5m: price.cache_creation_input_token_cost.or(input),
            cache_write_1h,
            output: price.output_cost_per_token,
        }
    }

    /// Rates above [`LONG_CONTEXT_THRESHOLD`]. A tiered price the catalog doesn't list is the
    /// standard one, except that cache prices rise by the same factor as the input price
    /// (as they do at Anthropic and Google).
    fn long_context(price: &ModelPrice) -> Rates {
        let standard = Rates::standard(price);
        let input = price
            .input_cost_per_token_above_200k_tokens
            .or(standard.input);
        let factor = match (standard.input, input) {
            (Some(base), Some(tier)) if base > 0.0 => tier / base,
            _ => 1.0,
        };
        let scaled = |rate: Option<f64>| rate.map(|rate| rate * factor);
        Rates {
            input,
            cache_read: price
                .cache_read_input_token_cost_above_200k_tokens
                .or_else(|| scaled(standard.cache_read)),
            cache_write_5m: price
                .cache_creation_input_token_cost_above_200k_tokens
                .or_else(|| scaled(standard.cache_write_5m)),
            cache_write_1h: scaled(standard.cache_write_1h),
            output: price
                .output_cost_per_token_above_200k_tokens
                .or(standard.output),
        }
    }
}

/// The cost of a request in USD, or `None` when it cannot be known: the model has neither an
/// input nor an output price, or a bucket holding tokens has no price (even after the fallbacks
/// described on the rates) — an unknown cost is not reported as free.
///
/// The buckets of [`TokenCounts`] are disjoint: `input` (uncached), `cache_read`,
/// `cache_write_5m`, `cache_write_1h` and `output` are each charged once; `reasoning` is part of
/// `output` and is not charged again. When the request's whole input (`total_input()`) exceeds
/// 200,000 tokens and the model has `*_above_200k_tokens` prices, every bucket is charged at the
/// long-context rates, as Anthropic and Google bill.
pub fn cost_usd(price: &ModelPrice, tokens: &TokenCounts) -> Option<f64> {
    if price.input_cost_per_token.is_none() && price.output_cost_per_token.is_none() {
        return None;
    }
    let rates = rates_for(price, tokens);
    let buckets = [
        (tokens.input, rates.input),
        (tokens.cache_read, rates.cache_read),
        (tokens.cache_write_5m, rates.cache_write_5m),
        (tokens.cache_write_1h, rates.cache_write_1h),
        (tokens.output, rates.output),
    ];
    let mut total = 0.0;
    for (count, rate) in buckets {
        if count > 0 {
            total += count as f64 * rate?;
        }
    }
    Some(total)
}

/// The rates a request is billed at: long-context ones above the threshold.
fn rates_for(price: &ModelPrice, tokens: &TokenCounts) -> Rates {
    if tokens.total_input() > LONG_CONTEXT_THRESHOLD && price.has_long_context_prices() {
        Rates::long_context(price)
    } else {
        Rates::standard(price)
    }
}

/// What the request's cache reads saved: their tokens at the full input price, less
/// what they cost at the cache-read price. `None` when the model's input price is unknown.
pub fn cache_savings_usd(price: &ModelPrice, tokens: &TokenCounts) -> Option<f64> {
    let rates = rates_for(price, tokens);
    let input = rates.input?;
    let read = rates.cache_read.unwrap_or(input);
    Some(tokens.cache_read as f64 * (input - read).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_savings_are_reads_at_the_input_price_less_the_read_price() {
        let price = ModelPrice {
            input_cost_per_token: Some(3e-6),
            cache_read_input_token_cost: Some(3e-7),
            output_cost_per_token: Some(1.5e-5),
            ..Default::default()
        };
        let tokens = TokenCounts {
            input: 10,
            cache_read: 1000,
            output: 5,
            ..Default::default()
        };
        assert_close(cache_savings_usd(&price, &tokens).unwrap(), 1000.0 * 2.7e-6);
        assert_eq!(cache_savings_usd(&ModelPrice::default(), &tokens), None);
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() <= 1e-12 + expected.abs() * 1e-9,
            "{actual} != {expected}"
        );
    }

    fn builtin(catalog: &str, model: &str) -> &'static ModelPrice {
        PriceCatalog::builtin()
            .lookup(catalog, model)
            .unwrap_or_else(|| panic!("{catalog}/{model} not in the built-in catalog"))
    }

    #[test]
    fn builtin_catalog_parses() {
        let parsed = PriceCatalog::from_json(BUILTIN_JSON).expect("data/prices.json parses");
        assert!(parsed.len() > 500, "only {} models", parsed.len());
        assert_eq!(PriceCatalog::builtin().len(), parsed.len());
    }

    #[test]
    fn known_models_are_found() {
        let sonnet = builtin("anthropic", "claude-sonnet-4-5");
        assert_eq!(sonnet.input_cost_per_token, Some(3e-6));
        assert_eq!(sonnet.output_cost_per_token, Some(15e-6));

        let gpt = builtin("openai", "gpt-4.1");
        assert_eq!(gpt.input_cost_per_token, Some(2e-6));
        assert_eq!(gpt.output_cost_per_token, Some(8e-6));
        assert_eq!(gpt.cache_read_input_token_cost, Some(5e-7));

        let deepseek = builtin("deepseek", "deepseek-chat");
        assert!(deepseek.input_cost_per_token.is_some());
        assert!(deepseek.output_cost_per_token.is_some());

        for (catalog, model) in [
            ("xai", "grok-4"),
            ("groq", "llama-3.3-70b-versatile"),
            ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
            ("openrouter", "anthropic/claude-sonnet-4.5"),
            ("gemini", "gemini-2.5-pro"),
            ("mistral", "mistral-large-latest"),
        ] {
            builtin(catalog, model);
        }
    }

    #[test]
    fn dated_case_and_latest_ids_resolve() {
        let catalog = PriceCatalog::builtin();
        let sonnet = builtin("anthropic", "claude-sonnet-4-5");
        // A snapshot listed in the catalog, and one that isn't (falls back to the undated alias).
        assert_eq!(
            catalog.lookup("anthropic", "claude-sonnet-4-5-20250929"),
            Some(sonnet)
        );
        assert_eq!(
            catalog.lookup("anthropic", "claude-sonnet-4-5-20991231"),
            Some(sonnet)
        );
        assert_eq!(
            catalog.lookup("openai", "gpt-4.1-2099-01-01"),
            Some(builtin("openai", "gpt-4.1"))
        );
        // Case-insensitive, in the model and in the catalog name.
        assert_eq!(
            catalog.lookup("OpenAI", "GPT-4.1"),
            Some(builtin("openai", "gpt-4.1"))
        );
        // `-latest`: the undated name, else the newest dated snapshot.
        assert_eq!(
            catalog.lookup("anthropic", "claude-3-7-sonnet-latest"),
            Some(builtin("anthropic", "claude-3-7-sonnet-20250219"))
        );
        assert_eq!(
            catalog.lookup("xai", "grok-4.6-latest"),
            Some(builtin("xai", "grok-4.6"))
        );
    }

    #[test]
    fn unknown_models_are_not_found() {
        let catalog = PriceCatalog::builtin();
        assert_eq!(catalog.lookup("openai", "no-such-model"), None);
        assert_eq!(catalog.lookup("openai", "no-such-model-20250101"), None);
        assert_eq!(catalog.lookup("openai", "no-such-model-latest"), None);
        assert_eq!(catalog.lookup("no-such-catalog", "gpt-4.1"), None);
        assert_eq!(catalog.lookup("openai", "gpt-4.1-"), None);
        // Catalogs don't leak into each other.
        assert_eq!(catalog.lookup("openai", "claude-sonnet-4-5"), None);
    }

    #[test]
    fn date_suffixes() {
        assert_eq!(
            split_date_suffix("m-20250929"),
            Some(("m", "20250929".to_owned()))
        );
        assert_eq!(
            split_date_suffix("m-2025-04-14"),
            Some(("m", "20250414".to_owned()))
        );
        assert_eq!(split_date_suffix("gpt-4o"), None);
        assert_eq!(split_date_suffix("-20250929"), None);
        assert_eq!(split_date_suffix("m-2025-0414"), None);
    }

    #[test]
    fn cost_with_cache_reads_and_writes_matches_hand_computation() {
        let sonnet = builtin("anthropic", "claude-sonnet-4-5");
        // The catalog's numbers the hand computation below uses.
        assert_eq!(sonnet.cache_read_input_token_cost, Some(0.3e-6));
        assert_eq!(sonnet.cache_creation_input_token_cost, Some(3.75e-6));
        assert_eq!(sonnet.cache_creation_input_token_cost_above_1hr, Some(6e-6));
        let tokens = TokenCounts {
            input: 1_000,
            cache_read: 50_000,
            cache_write_5m: 2_000,
            cache_write_1h: 1_000,
            output: 500,
            reasoning: 0,
        };
        let expected = 1_000.0 * 3e-6 // 0.003
            + 50_000.0 * 0.3e-6 // 0.015
            + 2_000.0 * 3.75e-6 // 0.0075
            + 1_000.0 * 6e-6 // 0.006
            + 500.0 * 15e-6; // 0.0075
        assert_close(expected, 0.039);
        assert_close(cost_usd(sonnet, &tokens).expect("priced"), expected);

        // gpt-4.1: cached input discounted, no write surcharge (writes bill as input).
        let gpt = builtin("openai", "gpt-4.1");
        let tokens = TokenCounts {
            input: 10_000,
            cache_read: 20_000,
            output: 1_000,
            ..TokenCounts::default()
        };
        assert_close(
            cost_usd(gpt, &tokens).expect("priced"),
            10_000.0 * 2e-6 + 20_000.0 * 5e-7 + 1_000.0 * 8e-6,
        );
    }

    #[test]
    fn long_context_tier_applies_above_200k_input() {
        let sonnet = builtin("anthropic", "claude-sonnet-4-5");
        assert_eq!(sonnet.input_cost_per_token_above_200k_tokens, Some(6e-6));
        assert_eq!(
            sonnet.output_cost_per_token_above_200k_tokens,
            Some(22.5e-6)
        );
        assert_eq!(
            sonnet.cache_read_input_token_cost_above_200k_tokens,
            Some(0.6e-6)
        );

        // Exactly 200k input: standard rates.
        let at_threshold = TokenCounts {
            input: 150_000,
            cache_read: 50_000,
            output: 1_000,
            ..TokenCounts::default()
        };
        assert_close(
            cost_usd(sonnet, &at_threshold).expect("priced"),
            150_000.0 * 3e-6 + 50_000.0 * 0.3e-6 + 1_000.0 * 15e-6,
        );

        // Above: every bucket at the long-context rate, counting cached input toward the threshold.
        let above = TokenCounts {
            input: 150_000,
            cache_read: 50_001,
            cache_write_1h: 1_000,
            output: 1_000,
            ..TokenCounts::default()
        };
        // No 1-hour long-context price in the catalog: 6e-6 scaled by the input factor (2×).
        assert_close(
            cost_usd(sonnet, &above).expect("priced"),
            150_000.0 * 6e-6 + 50_001.0 * 0.6e-6 + 1_000.0 * 12e-6 + 1_000.0 * 22.5e-6,
        );

        let gemini = builtin("gemini", "gemini-2.5-pro");
        let long = TokenCounts {
            input: 300_000,
            output: 2_000,
            ..TokenCounts::default()
        };
        assert_close(
            cost_usd(gemini, &long).expect("priced"),
            300_000.0
                * gemini
                    .input_cost_per_token_above_200k_tokens
                    .expect("tiered")
                + 2_000.0
                    * gemini
                        .output_cost_per_token_above_200k_tokens
                        .expect("tiered"),
        );

        // A model without tiered prices keeps its standard rates.
        let gpt = builtin("openai", "gpt-4.1");
        assert_close(
            cost_usd(gpt, &long).expect("priced"),
            300_000.0 * 2e-6 + 2_000.0 * 8e-6,
        );
    }

    #[test]
    fn reasoning_tokens_are_not_charged_twice() {
        let price = builtin("openai", "gpt-4.1");
        let plain = TokenCounts {
            input: 100,
            output: 1_000,
            ..TokenCounts::default()
        };
        let with_reasoning = TokenCounts {
            reasoning: 800,
            ..plain
        };
        let expected = 100.0 * 2e-6 + 1_000.0 * 8e-6;
        assert_close(cost_usd(price, &plain).expect("priced"), expected);
        assert_close(cost_usd(price, &with_reasoning).expect("priced"), expected);
    }

    #[test]
    fn fallbacks_and_unknown_costs() {
        let tokens = TokenCounts {
            input: 1_000,
            cache_read: 1_000,
            cache_write_5m: 1_000,
            cache_write_1h: 1_000,
            output: 1_000,
            reasoning: 0,
        };
        // Only input/output known: every input bucket at the input price.
        let plain = ModelPrice {
            input_cost_per_token: Some(1e-6),
            output_cost_per_token: Some(4e-6),
            ..ModelPrice::default()
        };
        assert_close(
            cost_usd(&plain, &tokens).expect("priced"),
            4_000.0 * 1e-6 + 1_000.0 * 4e-6,
        );

        // A 5-minute write price but no 1-hour one: 1-hour writes at 2× input.
        let with_writes = ModelPrice {
            cache_creation_input_token_cost: Some(1.25e-6),
            ..plain.clone()
        };
        assert_close(
            cost_usd(&with_writes, &tokens).expect("priced"),
            2_000.0 * 1e-6 + 1_000.0 * 1.25e-6 + 1_000.0 * 2e-6 + 1_000.0 * 4e-6,
        );

        // No price at all: unknown, not free (even for zero tokens).
        assert_eq!(cost_usd(&ModelPrice::default(), &tokens), None);
        assert_eq!(
            cost_usd(&ModelPrice::default(), &TokenCounts::default()),
            None
        );

        // An embedding model priced for input only: fine without output, unknown with it.
        let embed = ModelPrice {
            input_cost_per_token: Some(1e-7),
            ..ModelPrice::default()
        };
        let input_only = TokenCounts {
            input: 1_000,
            ..TokenCounts::default()
        };
        assert_close(cost_usd(&embed, &input_only).expect("priced"), 1e-4);
        assert_eq!(cost_usd(&embed, &tokens), None);

        // Free models cost zero, not unknown.
        let free = ModelPrice {
            input_cost_per_token: Some(0.0),
            output_cost_per_token: Some(0.0),
            ..ModelPrice::default()
        };
        assert_eq!(cost_usd(&free, &tokens), Some(0.0));
    }

    #[test]
    fn override_overlays_catalog_entry() {
        let base = builtin("openai", "gpt-4.1");
        let user = ModelPrice {
            input_cost_per_token: Some(1e-6),
            max_output_tokens: Some(1_000),
            ..ModelPrice::default()
        };
        let merged = user.overlaid_on(Some(base));
        assert_eq!(merged.input_cost_per_token, Some(1e-6));
        assert_eq!(merged.max_output_tokens, Some(1_000));
        assert_eq!(merged.output_cost_per_token, base.output_cost_per_token);
        assert_eq!(
            merged.cache_read_input_token_cost,
            base.cache_read_input_token_cost
        );
        assert_eq!(merged.max_input_tokens, base.max_input_tokens);
        // Without a catalog entry the override stands alone.
        assert_eq!(user.overlaid_on(None), user);
        // An empty override changes nothing.
        assert_eq!(ModelPrice::default().overlaid_on(Some(base)), *base);
    }

    #[test]
    fn serde_shape() {
        let price: ModelPrice =
            serde_json::from_str(r#"{"input_cost_per_token":1e-6,"max_input_tokens":1000}"#)
                .expect("parses");
        assert_eq!(price.input_cost_per_token, Some(1e-6));
        assert_eq!(price.max_input_tokens, Some(1000));
        assert_eq!(
            serde_json::to_string(&price).expect("serializes"),
            r#"{"input_cost_per_token":1e-6,"max_input_tokens":1000}"#
        );
        assert!(serde_json::from_str::<ModelPrice>(r#"{"input_cost_per_tokens":1e-6}"#).is_err());
    }
}
