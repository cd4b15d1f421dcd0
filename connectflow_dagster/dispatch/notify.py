"""Cross-process notifications: wake a waiting process instead of having it poll.

Three channels (DESIGN.md decision 14):

- ``INBOX``: an event was enqueued (or became claimable again); idle workers wake and claim.
- ``RUN_END`` / ``RUN_PROGRESS`` (payload: execution id): an event's run finished, or changed (a node
  started or ended); after-run webhooks and the live-events stream wake and re-read run storage.
- ``CANCEL`` (payload: run id): cancel was requested for a run a worker is executing.

Two transports, chosen by the database, as every process of one deployment shares it:

- **PostgreSQL**: ``LISTEN``/``NOTIFY`` (``pg_notify``) on a dedicated connection per listener.
- **SQLite** (one host by definition): a directory per channel under ``$CONNECTFLOW_HOME/notify``
  holding one unix datagram socket per listening process; a sender writes one datagram to every
  socket it finds there and removes the sockets nobody listens on any more (their process died).

A notification is only a hint to look again: receivers re-read the database after every wake-up
and, because a notification can be lost (a listener that was reconnecting, a full socket buffer, a
sender with notifications off), every waiter also wakes after a slow safety poll
(``CONNECTFLOW_SAFETY_POLL_SECONDS``). ``CONNECTFLOW_NOTIFICATIONS=false`` stops sending (tests
prove the safety poll alone loses nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import math
import os
import secrets
import select
import socket
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from connectflow_dagster.config import get_settings
from connectflow_dagster.dispatch.config import get_dispatch_settings

log = logging.getLogger("connectflow.notify")

INBOX = "cf_inbox"
RUN_END = "cf_run_end"
RUN_PROGRESS = "cf_run_progress"
CANCEL = "cf_cancel"
CHANNELS = (INBOX, RUN_END, RUN_PROGRESS, CANCEL)

# A unix socket address holds at most 108 bytes (Linux; 104 on BSDs); stay well below it.
_MAX_SOCKET_PATH = 100
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


@dataclass(frozen=True)
class Notification:
    """One received notification; ``payload`` is what the sender passed (an id, or empty)."""

    channel: str
    payload: str


def _check(channel: str) -> None:
    if channel not in CHANNELS:
        raise ValueError(f"unknown notification channel {channel!r}")


# ---- sending ---------------------------------------------------------------------------------------------


def publish(channel: str, payload: str = "", *, connection: Connection | None = None) -> None:
    """Send ``payload`` on ``channel`` to every process listening now. Call it after the commit that
    made the change visible. Never raises: a lost notification is caught by the safety poll.

    On PostgreSQL ``connection`` (optional) is used and committed; otherwise a pooled connection."""
    _check(channel)
    if not get_dispatch_settings().notifications:
        return
    try:
        if get_settings().uses_postgres:
            _publish_postgres(channel, payload, connection)
        else:
            _local_sender().send(_channel_dir(channel), payload.encode())
    except Exception as exc:  # the receivers' safety poll covers a notification that could not be sent
        log.warning("could not send a %s notification: %s", channel, exc)


def publish_many(channel: str, payloads: Iterable[str]) -> None:
    """``publish`` each payload (e.g. an execution id and the id of its current attempt's run)."""
    for payload in dict.fromkeys(payloads):
        publish(channel, payload)


def _publish_postgres(channel: str, payload: str, connection: Connection | None) -> None:
    if connection is not None:
        connection.execute(_NOTIFY, {"channel": channel, "payload": payload})
        connection.commit()
        return
    from connectflow_dagster.store.db import get_engine

    with get_engine().connect() as own:
        own.execute(_NOTIFY, {"channel": channel, "payload": payload})
        own.commit()


def notify_dir() -> Path:
    """Where the SQLite deployment's listening sockets live (``$CONNECTFLOW_HOME/notify``).

    When that path is too long for a socket address (deep homes, e.g. test directories), a private
    directory in the temp dir named after the home's hash is used instead: still one per home."""
    home = get_settings().home_dir
    base = home / "notify"
    longest = len(str(base / INBOX / "x")) + 24  # + "/" + a listener's file name
    if longest > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(str(home).encode()).hexdigest()[:16]
        base = Path(tempfile.gettempdir()) / f"connectflow-notify-{os.getuid()}-{digest}"
    return base


def _channel_dir(channel: str) -> Path:
    return notify_dir() / channel


class _LocalSender:
    """Writes one datagram to every listening socket of a channel directory.

    The directory listing is cached until the directory changes (its mtime moves whenever a
    listener binds or is removed), so a send is a ``stat`` plus one ``sendto`` per listener."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._lock = threading.Lock()
        self._listing: dict[Path, tuple[int, list[str]]] = {}

    def _targets(self, directory: Path) -> list[str]:
        try:
            mtime = directory.stat().st_mtime_ns
        except FileNotFoundError:
            return []
        cached = self._listing.get(directory)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        names = [str(directory / n) for n in os.listdir(directory) if n.endswith(".sock")]
        self._listing[directory] = (mtime, names)
        return names

    def send(self, directory: Path, data: bytes) -> None:
        with self._lock:
            for path in self._targets(directory):
                try:
                    self._sock.sendto(data, path)
                except (ConnectionRefusedError, FileNotFoundError):
                    # Nobody is bound there any more: its process died without cleaning up.
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                    self._listing.pop(directory, None)
                except BlockingIOError:
                    pass  # its buffer is full of unread wake-ups already: it will look again
                except OSError as exc:
                    if exc.errno not in (errno.ENOBUFS, errno.EAGAIN):
                        raise


_sender: _LocalSender | None = None
_sender_lock = threading.Lock()


def _local_sender() -> _LocalSender:
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = _LocalSender()
        return _sender


# ---- listening -------------------------------------------------------------------------------------------


class Listener:
    """Receives notifications on some channels. ``wait(timeout)`` blocks until at least one arrives,
    ``interrupt()`` is called (safe from a signal handler or another thread), or the timeout passes;
    it returns everything that arrived (empty on timeout or interrupt). Close it when done."""

    def __init__(self, channels: Sequence[str]) -> None:
        for channel in channels:
            _check(channel)
        self.channels = tuple(channels)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.closed = False

    def interrupt(self) -> None:
        """Make a current or the next ``wait`` return at once."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"!")

    def _sources(self) -> list[Any]:
        raise NotImplementedError

    def _receive(self) -> list[Notification]:
        raise NotImplementedError

    def wait(self, timeout: float | None) -> list[Notification]:
        if self.closed:
            raise RuntimeError("the listener is closed")
        # poll(2), not select(2): select refuses descriptors above 1023, which a busy gateway (or a
        # long test session) reaches; that killed the waiting worker thread.
        poller = select.poll()
        for source in (*self._sources(), self._wake_r):
            poller.register(source, select.POLLIN)
        millis = None if timeout is None else max(0, math.ceil(timeout * 1000))
        ready = {fd for fd, _ in poller.poll(millis)}
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        return self._receive() if ready else []

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _LocalListener(Listener):
    """One datagram socket per channel, bound in the channel's directory; removed on close."""

    def __init__(self, channels: Sequence[str]) -> None:
        super().__init__(channels)
        self._socks: dict[socket.socket, str] = {}
        self._paths: list[Path] = []
        name = f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        try:
            for channel in self.channels:
                directory = _channel_dir(channel)
                directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                path = directory / name
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                sock.setblocking(False)
                sock.bind(str(path))
                os.chmod(path, 0o600)
                self._socks[sock] = channel
                self._paths.append(path)
        except BaseException:
            self.close()
            raise

    def _sources(self) -> list[Any]:
        return list(self._socks)

    def _receive(self) -> list[Notification]:
        out: list[Notification] = []
        for sock, channel in self._socks.items():
            while True:
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    break
                out.append(Notification(channel, data.decode(errors="replace")))
        return out

    def close(self) -> None:
        for sock in self._socks:
            sock.close()
        for path in self._paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._socks, self._paths = {}, []
        super().close()


class _PostgresListener(Listener):
    """``LISTEN`` on a dedicated autocommit connection; reconnects (and reports a wake-up, so the
    caller looks again) when the connection drops."""

    def __init__(self, channels: Sequence[str]) -> None:
        super().__init__(channels)
        self._conn: Any = None
        self._connect()

    def _connect(self) -> None:
        import psycopg2
        from sqlalchemy.engine import make_url

        url = make_url(get_settings().resolved_database_url)
        args = url.translate_connect_args(username="user", database="dbname")
        conn = psycopg2.connect(**args, **url.query)
        conn.autocommit = True
        with conn.cursor() as cursor:
            for channel in self.channels:
                cursor.execute(f'LISTEN "{channel}"')  # channel names are our constants
        self._conn = conn

    def _sources(self) -> list[Any]:
        if self._conn is None or self._conn.closed:
            try:
                self._connect()
            except Exception as exc:
                log.warning("could not listen for notifications (%s); relying on the safety poll", exc)
                return []
        return [self._conn]

    def _receive(self) -> list[Notification]:
        if self._conn is None:
            return []
        try:
            self._conn.poll()
        except Exception as exc:  # the connection dropped: reconnect next time, look again now
            log.warning("notification connection lost (%s); reconnecting", exc)
            self._drop()
            return [Notification(channel, "") for channel in self.channels]
        out = [Notification(n.channel, n.payload) for n in self._conn.notifies]
        self._conn.notifies.clear()
        return out

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    def close(self) -> None:
        self._drop()
        super().close()


def listen(*channels: str) -> Listener:
    """A listener on ``channels`` for the configured database (PostgreSQL or the local channel)."""
    if get_settings().uses_postgres:
        return _PostgresListener(channels)
    return _LocalListener(channels)


# ---- waiting for a run, from many threads or event loops of one process ---------------------------------


@dataclass(eq=False)
class Subscription:
    """Wakes when a notification with payload ``key`` arrives on one of ``channels``."""

    key: str
    channels: frozenset[str]
    _event: threading.Event = field(default_factory=threading.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _async_event: asyncio.Event | None = None

    def _fire(self) -> None:
        self._event.set()
        if self._loop is not None and self._async_event is not None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits there any more
                self._loop.call_soon_threadsafe(self._async_event.set)

    def wait(self, timeout: float | None) -> bool:
        """Block until notified (True) or ``timeout`` (False); clears the flag for the next wait."""
        fired = self._event.wait(timeout)
        self._event.clear()
        return fired

    async def wait_async(self, timeout: float | None) -> bool:
        """``wait`` for coroutines (the subscription must have been made on this event loop)."""
        assert self._async_event is not None, "subscribe from the event loop that waits"
        try:
            await asyncio.wait_for(self._async_event.wait(), timeout)
            fired = True
        except TimeoutError:
            fired = False
        self._async_event.clear()
        self._event.clear()
        return fired


class RunWatcher:
    """One listener thread per process for run notifications, shared by every waiter in it.

    ``subscribe(execution_id)`` before reading the run's state, then wait on the subscription with
    the safety poll as timeout, re-reading after every wake-up: a change between the read and the
    wait is never missed. The listener exists only while someone is subscribed, so workers send
    progress notifications to nobody when nobody watches (SQLite)."""

    def __init__(self, channels: Sequence[str] = (RUN_END, RUN_PROGRESS)) -> None:
        self.channels = tuple(channels)
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscription]] = {}
        self._listener: Listener | None = None
        self._thread: threading.Thread | None = None

    def subscribe(self, key: str, channels: Iterable[str] | None = None) -> Subscription:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        sub = Subscription(
            key,
            frozenset(channels or self.channels),
            _loop=loop,
            _async_event=asyncio.Event() if loop is not None else None,
        )
        with self._lock:
            self._subs.setdefault(key, set()).add(sub)
            if self._listener is None:
                self._listener = listen(*self.channels)
                self._thread = threading.Thread(
                    target=self._run, args=(self._listener,), name="cf-run-watcher", daemon=True
                )
                self._thread.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.key]
            if not self._subs and self._listener is not None:
                self._listener.interrupt()  # the thread sees nobody is left, closes and exits
                self._listener = None

    def _run(self, listener: Listener) -> None:
        try:
            while True:
                with self._lock:
                    if self._listener is not listener:
                        return
                try:
                    received = listener.wait(None)
                except Exception as exc:
                    # e.g. EBADF while the process shuts down: wake every waiter (each re-reads and
                    # falls back to its safety poll) and retire this listener; the next subscribe
                    # starts a fresh one instead of this thread spinning on a broken one.
                    with self._lock:
                        current = self._listener is listener
                        if current:
                            self._listener = None
                        for subs in self._subs.values():
                            for sub in subs:
                                sub._fire()
                    if current:
                        log.warning("run watcher: waiting for notifications failed: %s", exc)
                    return
                with self._lock:
                    for note in received:
                        for sub in self._subs.get(note.payload, ()):
                            if note.channel in sub.channels:
                                sub._fire()
        finally:
            listener.close()

    def close(self) -> None:
        """Stop listening (the gateway is stopping); waiters fall back to their safety poll."""
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
            self._subs.clear()
            if self._listener is not None:
                self._listener.interrupt()
                self._listener = None
        for sub in subs:
            sub._fire()
