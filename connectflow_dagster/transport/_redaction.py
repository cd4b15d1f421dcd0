"""Keep secrets that live in URLs out of httpx's request log.

httpx logs every request at INFO as ``HTTP Request: POST <full URL> …``. A Discord or Slack incoming
webhook URL carries its token in the path, and a URL may carry ``user:password@``; this filter on the
``httpx`` logger rewrites such parts to ``***`` before any handler sees the record. It is installed
when the first node HTTP client is created (``new_http_client``), never at import.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict

_TOKEN_PATHS = (
    re.compile(r"(/webhooks/[^/\s?#]+/)[^/\s?#\"']+"),  # Discord: /api[/v10]/webhooks/{id}/{token}
    re.compile(r"(/services/[^/\s?#]+/[^/\s?#]+/)[^/\s?#\"']+"),  # Slack: /services/T…/B…/{secret}
    re.compile(r"(https?://)[^/\s@]+@"),  # userinfo: https://user:password@host
)
_REPLACEMENTS = (r"\1***", r"\1***", r"\1***@")


# Secrets a node put into a URL itself (the HTTP Request's query-parameter credential): redacted
# wherever they appear. Bounded, most recent kept.
_URL_SECRETS: OrderedDict[str, None] = OrderedDict()
_URL_SECRETS_LOCK = threading.Lock()
MAX_URL_SECRETS = 1024


def register_url_secret(value: str) -> None:
    """Redact ``value`` (and its URL-encoded form) from httpx's request log from now on."""
    from urllib.parse import quote, quote_plus

    if len(value) < 4:
        return
    with _URL_SECRETS_LOCK:
        for form in {value, quote(value, safe=""), quote_plus(value)}:
            _URL_SECRETS[form] = None
            _URL_SECRETS.move_to_end(form)
        while len(_URL_SECRETS) > MAX_URL_SECRETS:
            _URL_SECRETS.popitem(last=False)


def redact_url_secrets(text: str) -> str:
    """``…/webhooks/123/abc?wait=true`` → ``…/webhooks/123/***?wait=true`` (Slack's form and userinfo too)."""
    for pattern, replacement in zip(_TOKEN_PATHS, _REPLACEMENTS, strict=True):
        text = pattern.sub(replacement, text)
    if _URL_SECRETS:
        with _URL_SECRETS_LOCK:
            secrets = sorted(_URL_SECRETS, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, "***")
    return text


class UrlSecretFilter(logging.Filter):
    """Rewrites a record's message and arguments with URL secrets redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        if isinstance(record.msg, str):
            record.msg = redact_url_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        return True


def _redacted(arg: object) -> object:
    if isinstance(arg, int | float) or arg is None:
        return arg
    text = str(arg)
    redacted = redact_url_secrets(text)
    return arg if redacted == text else redacted


def install_url_secret_filter(logger_name: str = "httpx") -> None:
    """Add the filter to ``logger_name`` once (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, UrlSecretFilter) for f in logger.filters):
        logger.addFilter(UrlSecretFilter())
