"""The AI assistant: a sentence in, a validated workflow out (see docs/assistant.md).

``pipeline.assist`` is the one entry point; ``library`` holds templates and prompts as package data;
``llm`` makes the model calls through a litellm Router; ``history`` stores conversations.
"""
