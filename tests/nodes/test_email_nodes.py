"""email.smtp and email.gmail against a real aiosmtpd server (STARTTLS and implicit TLS, trustme certs)."""

from __future__ import annotations

import secrets

import httpx
import pytest
from fake_services import SmtpServer

from connectflow_dagster.nodes.email.gmail import credential as gmail_credential
from connectflow_dagster.nodes.email.smtp import credential as smtp_credential

MESSAGE = {
    "to": "{{ trigger.email }}, Bob <bob@example.com>",
    "cc": ["carol@example.com"],
    "bcc": "audit@example.com",
    "subject": "Payment {{ trigger.id }} received",
    "text": "Hello {{ trigger.name }},\nwe received {{ trigger.amount }}.",
    "html": "<p>Hello <b>{{ trigger.name }}</b></p>",
    "from_name": "Shop",
    "reply_to": "support@example.com",
}
PAYLOAD = {"email": "ada@example.com", "id": "pi_1", "name": "Ada", "amount": "99.00 USD"}


def _smtp_cred(book, server, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "host": server.host,
        "port": server.port,
        "security": server.security,
        "username": server.username,
        "password": server.password,
        "ca_bundle": server.ca_file,
        **overrides,
    }
    return book.add("smtp", **{k: v for k, v in data.items() if v is not None})


def test_smtp_with_starttls_delivers_text_html_cc_and_bcc(run_action, book, smtp_starttls):
    ex, act = run_action("email.smtp", MESSAGE, _smtp_cred(book, smtp_starttls), payload=PAYLOAD)
    assert ex.status == "success", ex.error
    [delivered] = smtp_starttls.messages
    assert delivered.tls and delivered.authenticated
    assert delivered.mail_from == "mailer@example.com"
    assert delivered.rcpt_tos == [
        "ada@example.com",
        "bob@example.com",
        "carol@example.com",
        "audit@example.com",
    ]
    msg = delivered.message
    assert msg["From"] == "Shop <mailer@example.com>"
    assert msg["To"] == "ada@example.com, Bob <bob@example.com>" and msg["Cc"] == "carol@example.com"
    assert msg["Bcc"] is None  # blind copies are envelope-only
    assert msg["Reply-To"] == "support@example.com" and msg["Subject"] == "Payment pi_1 received"
    assert delivered.body("plain").strip() == "Hello Ada,\nwe received 99.00 USD."
    assert delivered.body("html").strip() == "<p>Hello <b>Ada</b></p>"
    assert act.output == {
        "success": True,
        "message_id": msg["Message-ID"],
        "to": ["ada@example.com", "Bob <bob@example.com>"],
    }
    assert msg["Message-ID"].endswith("@example.com>")


def test_gmail_sends_over_implicit_tls_from_the_account_address(run_action, book, smtp_ssl):
    cred = book.add(
        "gmail",
        email=smtp_ssl.username,
        app_password="abcd efgh ijkl mnop",  # as Google shows it
        host=smtp_ssl.host,
        port=smtp_ssl.port,
        ca_bundle=smtp_ssl.ca_file,
    )
    ex, act = run_action(
        "email.gmail",
        {"to": ["ada@example.com"], "subject": "Hi", "html": "<i>{{ trigger.x }}</i>"},
        cred,
        payload={"x": "html only"},
    )
    assert ex.status == "success", ex.error
    [delivered] = smtp_ssl.messages
    assert delivered.tls and delivered.authenticated and smtp_ssl.auth_attempts == ["shop@gmail.com"]
    assert delivered.mail_from == "shop@gmail.com" and delivered.message["From"] == "shop@gmail.com"
    assert delivered.message.get_content_type() == "text/html"
    assert delivered.body("html").strip() == "<i>html only</i>"
    assert act.output["to"] == ["ada@example.com"] and act.output["success"] is True


def test_gmail_defaults_to_smtp_gmail_com_465():
    fields = gmail_credential.fields(email="shop@gmail.com", app_password="x" * 16)
    server = fields.server()
    assert (server.host, server.port, server.security) == ("smtp.gmail.com", 465, "ssl")
    assert "x" * 16 not in repr(fields) + repr(server)


def test_a_ca_bundle_from_the_environment_is_trusted(run_action, book, smtp_ssl, monkeypatch):
    monkeypatch.setenv("CONNECTFLOW_SMTP_CA_FILE", smtp_ssl.ca_file)
    cred = book.add(
        "gmail",
        email=smtp_ssl.username,
        app_password=smtp_ssl.password,
        host=smtp_ssl.host,
        port=smtp_ssl.port,
    )
    ex, _ = run_action("email.gmail", {"to": "ada@example.com", "text": "hi"}, cred)
    assert ex.status == "success", ex.error
    assert len(smtp_ssl.messages) == 1


@pytest.mark.parametrize("fixture", ["smtp_ssl", "smtp_starttls"])
def test_an_untrusted_certificate_fails_at_once_and_says_how_to_trust_it(run_action, book, request, fixture):
    server = request.getfixturevalue(fixture)
    cred = _smtp_cred(book, server, ca_bundle=None)
    ex, act = run_action(
        "email.smtp",
        {"to": "ada@example.com", "text": "hi"},
        cred,
        retry={"max_retries": 3, "delay_seconds": 0},
    )
    assert ex.status == "failed" and act.attempts == 1
    assert "certificate verify failed" in act.error and "ca_bundle" in act.error
    assert server.messages == [] and server.auth_attempts == []


def test_plain_smtp_without_tls_or_login(run_action, book, tmp_path):
    with SmtpServer(tmp_path, security="none") as server:
        cred = book.add("smtp", host=server.host, port=server.port, security="none")
        ex, _ = run_action(
            "email.smtp", {"to": "ada@example.com", "text": "hi", "from_email": "bot@example.com"}, cred
        )
    assert ex.status == "success", ex.error
    [delivered] = server.messages
    assert not delivered.tls and not delivered.authenticated and delivered.mail_from == "bot@example.com"


def test_a_wrong_password_fails_at_once_after_one_login(run_action, book, smtp_starttls):
    cred = _smtp_cred(book, smtp_starttls, password="wrong-" + secrets.token_hex(4))
    ex, act = run_action(
        "email.smtp",
        {"to": "ada@example.com", "text": "hi"},
        cred,
        retry={"max_retries": 3, "delay_seconds": 0},
    )
    assert ex.status == "failed" and act.attempts == 1
    assert len(smtp_starttls.auth_sessions) == 1 and set(smtp_starttls.auth_attempts) == {
        "mailer@example.com"
    }
    assert "rejected the username or password (535" in act.error and "check the credential" in act.error
    assert smtp_starttls.messages == []


def test_a_temporary_refusal_is_retried_with_the_same_message_id(run_action, book, smtp_starttls):
    smtp_starttls.reply_next("451 4.3.0 Mail server temporarily rejected message")
    ex, act = run_action(
        "email.smtp",
        {"to": "ada@example.com", "text": "hi"},
        _smtp_cred(book, smtp_starttls),
        retry={"max_retries": 2, "delay_seconds": 0},
    )
    assert ex.status == "success", ex.error
    assert act.attempts == 2 and len(smtp_starttls.messages) == 1
    first, second = smtp_starttls.data_message_ids
    assert first == second == act.output["message_id"]  # receivers can drop the duplicate


def test_a_permanent_refusal_fails_at_once(run_action, book, smtp_starttls):
    smtp_starttls.reply_next("554 5.7.1 Message rejected as spam")
    ex, act = run_action(
        "email.smtp",
        {"to": "ada@example.com", "text": "hi"},
        _smtp_cred(book, smtp_starttls),
        retry={"max_retries": 2, "delay_seconds": 0},
    )
    assert ex.status == "failed" and act.attempts == 1 and "554 5.7.1 Message rejected as spam" in act.error


def test_a_server_that_never_answers_times_out_and_is_retried(run_action, book, silent_server):
    cred = book.add(
        "smtp",
        host="127.0.0.1",
        port=silent_server.port,
        security="starttls",
        username="mailer@example.com",
        password="pw-" + secrets.token_hex(4),
    )
    ex, act = run_action(
        "email.smtp",
        {"to": "ada@example.com", "text": "hi", "timeout": 0.5},
        cred,
        retry={"max_retries": 1, "delay_seconds": 0},
    )
    assert ex.status == "failed" and act.attempts == 2
    # After the last retry the execution shows Dagster's "Exceeded max_retries"; the cause is in the stack.
    assert "did not answer within 0.5 s" in act.stack


def test_a_failed_template_names_the_node_field_and_variable(run_action, book, smtp_starttls):
    ex, _ = run_action(
        "email.smtp",
        {"to": "ada@example.com", "text": "hi", "subject": "{{ order.number }}"},
        _smtp_cred(book, smtp_starttls),
    )
    assert ex.status == "failed"
    assert (
        "node 'act'" in ex.error and "field 'params.subject'" in ex.error and "variable 'order'" in ex.error
    )


def test_bad_addresses_and_missing_bodies_name_the_field(run_action, book, smtp_starttls):
    cred = _smtp_cred(book, smtp_starttls)
    ex, act = run_action(
        "email.smtp", {"to": "{{ trigger.to }}", "text": "hi"}, cred, payload={"to": "not-an-address"}
    )
    assert ex.status == "failed" and "field 'params.to" in act.error and "'not-an-address'" in act.error
    ex, act = run_action(
        "email.smtp", {"to": "a@example.com", "text": "{{ trigger.t }}"}, cred, payload={"t": ""}
    )
    assert (
        ex.status == "failed"
        and "field 'params.html'" in act.error
        and "give a text or an HTML body" in act.error
    )
    assert smtp_starttls.messages == []


def test_the_sender_must_be_known(run_action, book, smtp_starttls):
    cred = _smtp_cred(book, smtp_starttls, username="mailer")  # a login name, not an address
    ex, act = run_action("email.smtp", {"to": "a@example.com", "text": "hi"}, cred)
    assert ex.status == "failed" and "field 'params.from_email'" in act.error


def test_the_credential_tests_sign_in_without_sending(smtp_starttls, smtp_ssl):
    with httpx.Client() as http:
        fields = smtp_credential.fields(
            host=smtp_starttls.host,
            port=smtp_starttls.port,
            security="starttls",
            username=smtp_starttls.username,
            password=smtp_starttls.password,
            ca_bundle=smtp_starttls.ca_file,
        )
        assert (
            smtp_credential.test(fields, http)
            == f"signed in to the SMTP server 127.0.0.1:{smtp_starttls.port}"
        )
        gmail = gmail_credential.fields(
            email=smtp_ssl.username,
            app_password=smtp_ssl.password,
            host=smtp_ssl.host,
            port=smtp_ssl.port,
            ca_bundle=smtp_ssl.ca_file,
        )
        assert gmail_credential.test(gmail, http).startswith("signed in")
        wrong = fields.model_copy(update={"password": fields.password.__class__("nope")})
        with pytest.raises(Exception, match="rejected the username or password"):
            smtp_credential.test(wrong, http)
    assert smtp_starttls.messages == [] and smtp_ssl.messages == []
    assert smtp_starttls.password not in repr(fields)
