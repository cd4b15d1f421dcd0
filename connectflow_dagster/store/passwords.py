"""The password policy for e-mail accounts (issue 11, finding 7).

At least 8 characters that are not all spaces, not one of the most common passwords (a short list
shipped here, lower-cased; compiled from the public "most common passwords" lists), not made of one
or two repeated characters, and not the account's own e-mail address or its name part. Deliberately
no composition rules (NIST SP 800-63B: length and a block list, not "one digit, one symbol").
"""

from __future__ import annotations

MIN_LENGTH = 8

COMMON_PASSWORDS = frozenset(
    """
    password password1 password12 password123 password1234 passw0rd p@ssw0rd p@ssword pa$$word
    12345678 123456789 1234567890 12345678910 0123456789 87654321 11111111 00000000 12341234
    123123123 11223344 12121212 1q2w3e4r 1q2w3e4r5t 1qaz2wsx qwertyui qwertyuiop qwerty123
    qwerty12 qwer1234 asdfghjk asdfghjkl zxcvbnm1 zxcvbnma abcd1234 abc12345 abcdefgh abcdefg1
    iloveyou iloveyou1 sunshine sunshine1 princess princess1 football football1 baseball
    basketball superman batman123 starwars whatever trustno1 letmein1 letmein! welcome1
    welcome123 welcome! admin123 admin1234 administrator changeme changeme1 default1 secret12
    monkey12 dragon12 master12 shadow12 michael1 jennifer jordan23 charlie1 computer internet
    mustang1 liverpool chelsea1 arsenal1 1password football123 hello123 hellohello q1w2e3r4
    q1w2e3r4t5 zaq12wsx 1qazxsw2 aa123456 a1234567 a12345678 12qwaszx qazwsxedc 987654321
    123qweasd 1234qwer qwerty1234 passpass testtest test1234 test12345 guest123 user1234
    connectflow connectflow1 n8n12345 dagster1 mypassword mypassword1 yourpassword
    """.split()  # noqa: SIM905 (a word list reads better than 110 quoted strings)
)


def password_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` is refused for the account ``email``, or None when it is acceptable."""
    if len(password) < MIN_LENGTH or len(password.strip()) < MIN_LENGTH:
        return f"use at least {MIN_LENGTH} characters (spaces at the ends do not count)"
    lowered = password.strip().lower()
    if lowered in COMMON_PASSWORDS or lowered.replace(" ", "") in COMMON_PASSWORDS:
        return "this is one of the most common passwords: choose another"
    if len(set(lowered.replace(" ", ""))) <= 2:
        return "this password is too simple: choose one with more different characters"
    email = email.strip().lower()
    local = email.split("@", 1)[0]
    if email and (lowered == email or email in lowered or (len(local) >= 4 and lowered == local)):
        return "a password must not be your e-mail address"
    return None
