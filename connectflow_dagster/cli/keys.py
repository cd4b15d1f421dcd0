"""``connectflow rotate-keys``: re-encrypt every credential under a new key."""

from __future__ import annotations

import sys

import click

from connectflow_dagster.errors import ConnectFlowError


def _fail(message: str, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


@click.command("rotate-keys")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rotate_keys(yes: bool) -> None:
    """Re-encrypt every credential under a new key, in one transaction.

    \b
    Embedded default (key file in CONNECTFLOW_HOME): a new key is generated and added to the key
    file, every credential is re-encrypted under it, then the old keys are removed.
    With CONNECTFLOW_SECRET_KEY: put the new key first and keep the old ones after it
    (CONNECTFLOW_SECRET_KEY=new,old), run this, then remove the old keys from the variable.
    """
    from connectflow_dagster import crypto
    from connectflow_dagster.config import get_settings
    from connectflow_dagster.store.credentials import rotate_keys as rotate
    from connectflow_dagster.store.db import session_scope

    settings = get_settings()
    try:
        keyring = crypto.get_keyring(settings)
    except crypto.SecretKeyMissing as exc:
        _fail(str(exc))
    if crypto.uses_key_file(settings):
        path = crypto.key_file_path(settings)
        old_keys = crypto.read_key_file(path)
        new_key = crypto.generate_key()
        if not yes:
            click.confirm(f"Re-encrypt every credential under a new key (key file {path})?", abort=True)
        # 1. the new key encrypts from now on, in every process (they re-read the file); old keys decrypt.
        crypto.write_key_file(path, [new_key, *old_keys])
    else:
        assert settings.secret_key is not None
        env_keys = [k.strip() for k in settings.secret_key.get_secret_value().split(",") if k.strip()]
        new_key = env_keys[0]
        if len(env_keys) < 2:
            click.echo(
                "CONNECTFLOW_SECRET_KEY holds one key. To rotate, generate a new key, set\n"
                "  CONNECTFLOW_SECRET_KEY=<new key>,<current key>\n"
                "and run `connectflow rotate-keys` again; it re-encrypts everything under the first key."
            )
        if not yes:
            click.confirm(f"Re-encrypt every credential under key {keyring.primary_id}?", abort=True)

    target = crypto.key_id_of(new_key)
    total = 0
    try:
        # 2. re-encrypt; repeat until nothing is left under an old key (a write that raced step 1).
        for _ in range(5):
            with (
                session_scope() as session,
                click.progressbar(
                    length=1, label="re-encrypting credentials", show_pos=True, file=sys.stderr
                ) as bar,
            ):

                def progress(done: int, count: int, bar=bar) -> None:  # type: ignore[no-untyped-def]
                    bar.length = count
                    bar.update(done - bar.pos)

                changed = rotate(session, new_key, on_progress=progress)
            total += changed
            if changed == 0:
                break
        else:
            _fail("credentials kept appearing under old keys; old keys were kept, run rotate-keys again")
    except ConnectFlowError as exc:
        _fail(f"rotation rolled back, nothing was changed: {exc}")
    except Exception as exc:  # database errors: the transaction rolled back
        _fail(f"rotation rolled back, nothing was changed: {type(exc).__name__}: {exc}")
    # 3. rotation is over: retire the old keys.
    if crypto.uses_key_file(settings):
        crypto.write_key_file(crypto.key_file_path(settings), [new_key])
        click.echo(f"re-encrypted {total} credential(s) under key {target}; old keys removed from {path}")
    else:
        click.echo(
            f"re-encrypted {total} credential(s) under key {target}. "
            "You can now remove the old keys from CONNECTFLOW_SECRET_KEY."
        )


COMMANDS = [rotate_keys]
