"""The LLM providers, one row each; every row becomes the node type ``ai.<key>``.

``default_base_url`` is the API root litellm calls when the credential leaves ``base_url`` empty;
a credential's ``base_url`` takes the same form (litellm appends the provider's path to it).
``client`` is how litellm sends the provider's requests (the OpenAI SDK or its own HTTP handler), so
the node can hand it the shared, policy-checked HTTP client of the right kind.
"""

from __future__ import annotations

from connectflow_dagster.nodes.ai.chat import Provider, chat_node_type

ANTHROPIC = Provider(
    key="anthropic",
    display_name="Anthropic",
    litellm_prefix="anthropic",
    default_model="claude-sonnet-4-5",
    default_base_url="https://api.anthropic.com",
    auth="anthropic",
    probe_path="/v1/models",
)
OPENAI = Provider(
    key="openai",
    display_name="OpenAI",
    litellm_prefix="openai",
    default_model="gpt-4o-mini",
    default_base_url="https://api.openai.com/v1",
    auth="bearer",
    probe_path="/models",
    client="openai_sdk",
)
GEMINI = Provider(
    key="gemini",
    display_name="Google Gemini",
    litellm_prefix="gemini",
    default_model="gemini-2.5-flash",
    default_base_url="https://generativelanguage.googleapis.com/v1beta",
    auth="google",
    probe_path="/models",
)
DEEPSEEK = Provider(
    key="deepseek",
    display_name="DeepSeek",
    litellm_prefix="deepseek",
    default_model="deepseek-chat",
    default_base_url="https://api.deepseek.com",
    auth="bearer",
    probe_path="/models",
)
PERPLEXITY = Provider(
    key="perplexity",
    display_name="Perplexity",
    litellm_prefix="perplexity",
    default_model="sonar",
    default_base_url="https://api.perplexity.ai",
    auth="bearer",
    client="openai_sdk",
    # Perplexity has no model list: the cheapest authenticated call is a one-token completion.
    probe_path="/chat/completions",
    probe_body={"model": "sonar", "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]},
)

PROVIDERS = (ANTHROPIC, OPENAI, GEMINI, DEEPSEEK, PERPLEXITY)

anthropic_node = chat_node_type(ANTHROPIC)
openai_node = chat_node_type(OPENAI)
gemini_node = chat_node_type(GEMINI)
deepseek_node = chat_node_type(DEEPSEEK)
perplexity_node = chat_node_type(PERPLEXITY)
