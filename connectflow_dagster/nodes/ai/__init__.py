"""LLM chat nodes (``ai.anthropic``, ``ai.openai``, ``ai.gemini``, ``ai.deepseek``, ``ai.perplexity``).

``chat.py`` holds what every provider shares (params, output, credential fields, the litellm call and
its error mapping); ``providers.py`` is the table of providers that turns it into one node type each.
"""
