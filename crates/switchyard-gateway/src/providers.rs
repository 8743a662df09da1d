//! Provider kinds: their wire format, default base URL, key needs and price catalog.

use serde::{Deserialize, Serialize};

/// The HTTP API a provider speaks (and a client calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WireFormat {
    /// OpenAI chat completions: `POST {base}/chat/completions`.
    OpenAiChat,
    /// Anthropic messages: `POST {base}/v1/messages`.
    AnthropicMessages,
    /// OpenAI Responses: `POST {base}/responses` (clients; OpenAI itself as a provider).
    OpenAiResponses,
    /// Gemini: `POST {base}/models/{model}:generateContent` (providers only).
    Gemini,
    /// OpenAI embeddings: `POST {base}/embeddings`.
    OpenAiEmbeddings,
}

impl WireFormat {
    pub fn label(self) -> &'static str {
        match self {
            WireFormat::OpenAiChat => "openai-chat",
            WireFormat::AnthropicMessages => "anthropic-messages",
            WireFormat::OpenAiResponses => "openai-responses",
            WireFormat::Gemini => "gemini",
            WireFormat::OpenAiEmbeddings => "openai-embeddings",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            WireFormat::OpenAiChat => "OpenAI chat completions",
            WireFormat::AnthropicMessages => "Anthropic messages",
            WireFormat::OpenAiResponses => "OpenAI Responses",
            WireFormat::Gemini => "Gemini generateContent",
            WireFormat::OpenAiEmbeddings => "OpenAI embeddings",
        }
    }
}

/// The kinds of provider a user can configure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProviderKind {
    #[serde(rename = "openai")]
    OpenAi,
    #[serde(rename = "anthropic")]
    Anthropic,
    #[serde(rename = "gemini")]
    Gemini,
    #[serde(rename = "xai")]
    Xai,
    #[serde(rename = "deepseek")]
    DeepSeek,
    #[serde(rename = "groq")]
    Groq,
    #[serde(rename = "mistral")]
    Mistral,
    #[serde(rename = "openrouter")]
    OpenRouter,
    #[serde(rename = "together")]
    Together,
    #[serde(rename = "fireworks")]
    Fireworks,
    #[serde(rename = "ollama")]
    Ollama,
    #[serde(rename = "lmstudio")]
    LmStudio,
    #[serde(rename = "vllm")]
    Vllm,
    /// Any server speaking OpenAI chat completions at a base URL the user gives.
    #[serde(rename = "openai-compatible")]
    OpenAiCompatible,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 14] = [
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::Xai,
        ProviderKind::DeepSeek,
        ProviderKind::Groq,
        ProviderKind::Mistral,
        ProviderKind::OpenRouter,
        ProviderKind::Together,
        ProviderKind::Fireworks,
        ProviderKind::Ollama,
        ProviderKind::LmStudio,
        ProviderKind::Vllm,
        ProviderKind::OpenAiCompatible,
    ];

    /// The provider's main API.
    pub fn wire_format(self) -> WireFormat {
        match self {
            ProviderKind::Anthropic => WireFormat::AnthropicMessages,
            ProviderKind::Gemini => WireFormat::Gemini,
            _ => WireFormat::OpenAiChat,
        }
    }

    /// The API to call for a client of `client`'s format: the client's own when the
    /// provider speaks it (so the request passes through), else the provider's main one.
    pub fn format_for(self, client: WireFormat) -> WireFormat {
        match (self, client) {
            (ProviderKind::OpenAi, WireFormat::OpenAiResponses) => WireFormat::OpenAiResponses,
            (_, WireFormat::OpenAiEmbeddings) if self.wire_format() == WireFormat::OpenAiChat => {
                WireFormat::OpenAiEmbeddings
            }
            _ => self.wire_format(),
        }
    }

    /// Base URL used when the config names none. For OpenAI-style kinds it ends in the
    /// API version (`.../v1`); for Anthropic it is the host, as in `ANTHROPIC_BASE_URL`.
    pub fn default_base_url(self) -> Option<&'static str> {
        Some(match self {
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
            ProviderKind::Gemini => "https://generativelanguage.googleapis.com/v1beta",
            ProviderKind::Xai => "https://api.x.ai/v1",
            ProviderKind::DeepSeek => "https://api.deepseek.com/v1",
            ProviderKind::Groq => "https://api.groq.com/openai/v1",
            ProviderKind::Mistral => "https://api.mistral.ai/v1",
            ProviderKind::OpenRouter => "https://openrouter.ai/api/v1",
            ProviderKind::Together => "https://api.together.xyz/v1",
            ProviderKind::Fireworks => "https://api.fireworks.ai/inference/v1",
            ProviderKind::Ollama => "http://127.0.0.1:11434/v1",
            ProviderKind::LmStudio => "http://127.0.0.1:1234/v1",
            ProviderKind::Vllm => "http://127.0.0.1:8000/v1",
            ProviderKind::OpenAiCompatible => return None,
        })
    }

    /// Servers on the user's own machine: no key needed, and no cost unless priced.
    pub fn is_local(self) -> bool {
        matches!(
            self,
            ProviderKind::Ollama | ProviderKind::LmStudio | ProviderKind::Vllm
        )
    }

    /// Whether requests fail without an API key (custom servers may or may not need one).
    pub fn requires_key(self) -> bool {
        !self.is_local() && self != ProviderKind::OpenAiCompatible
    }

    /// The section of the built-in price catalog holding this kind's models: named
    /// like the kind itself; local and generic servers have none.
    pub fn price_catalog(self) -> Option<&'static str> {
        match self {
            ProviderKind::Ollama
            | ProviderKind::LmStudio
            | ProviderKind::Vllm
            | ProviderKind::OpenAiCompatible => None,
            priced => Some(priced.config_name()),
        }
    }

    /// The name used in config files.
    pub fn config_name(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Xai => "xai",
            ProviderKind::DeepSeek => "deepseek",
            ProviderKind::Groq => "groq",
            ProviderKind::Mistral => "mistral",
            ProviderKind::OpenRouter => "openrouter",
            ProviderKind::Together => "together",
            ProviderKind::Fireworks => "fireworks",
            ProviderKind::Ollama => "ollama",
            ProviderKind::LmStudio => "lmstudio",
            ProviderKind::Vllm => "vllm",
            ProviderKind::OpenAiCompatible => "openai-compatible",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_but_custom_has_a_base_url_and_config_names_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(
                kind.default_base_url().is_none(),
                kind == ProviderKind::OpenAiCompatible
            );
            let quoted = format!("\"{}\"", kind.config_name());
            let parsed: ProviderKind = serde_json::from_str(&quoted).expect("kind parses");
            assert_eq!(parsed, kind);
        }
    }
}
