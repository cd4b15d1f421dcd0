"""E-mail nodes: ``email.smtp`` (any server) and ``email.gmail`` (smtp.gmail.com with an app password).

Both build the message and deliver it with ``sender.py`` (aiosmtplib); they differ only in their
credential and in where the sender address comes from.
"""
