"""Record what real n8n answers for the n8n test workflows: tests/fixtures/n8n/expected/<case>.json.

Not a test (n8n is slow to start and CPU is scarce): run it once after adding or changing a case in
tests/fixtures/n8n/cases/ (and the shared webhook fixture), commit the files it writes.

    .venv/bin/python bench/n8n_expected.py [CASE …]

It installs n8n like bench/peer.py (cached in ~/.cache/connectflow-peer/n8n), serves the mock API of
tests/fixtures/n8n/mock_service.py on 127.0.0.1:8999, imports every case into a private n8n user
folder, activates them, starts n8n, posts each input of ``<case>.inputs.json`` to the case's webhook
and keeps n8n's answer (the last node's first item: ``responseMode: lastNode``). Last line: JSON.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "n8n"
CASES = FIXTURES / "cases"
EXPECTED = FIXTURES / "expected"
PEER = next(
    (p for p in (ROOT.parent / "shared" / "peer", ROOT.parent.parent / "shared" / "peer") if p.exists()),
    Path(os.environ.get("CONNECTFLOW_PEER_DIR", "../shared/peer")),
)
N8N_DIR = Path(os.environ.get("CONNECTFLOW_N8N_DIR", Path.home() / ".cache" / "connectflow-peer" / "n8n"))
PORT = int(os.environ.get("N8N_PORT", "5679"))
sys.path.insert(0, str(FIXTURES))

from mock_service import answer  # noqa: E402


def serve_mock() -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            status, payload = answer(
                self.command,
                url.path,
                dict(parse_qsl(url.query)),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 8999), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def post(url: str, body: object) -> tuple[int, object]:
    request = urllib.request.Request(  # noqa: S310 (local n8n)
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (local n8n)
            text = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as exc:
        text, status = exc.read().decode(), exc.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def main() -> None:
    wanted = set(sys.argv[1:])
    cases = {p.stem: p for p in sorted(CASES.glob("*.json")) if not p.name.endswith(".inputs.json")}
    cases["webhook_http_set"] = FIXTURES / "webhook_http_set.json"
    if wanted:
        cases = {k: v for k, v in cases.items() if k in wanted}
    print("  installing n8n (cached) …", flush=True)
    subprocess.run(["bash", str(PEER / "install-n8n.sh"), str(N8N_DIR)], check=True, capture_output=True)
    home = N8N_DIR / "home-interop"
    # a fresh database: every case imported once (two workflows on one webhook path would clash)
    for leftover in (home / ".n8n").glob("database.sqlite*"):
        leftover.unlink()
    env = {
        **os.environ,
        "N8N_USER_FOLDER": str(home),
        "N8N_PORT": str(PORT),
        "N8N_LISTEN_ADDRESS": "127.0.0.1",
        "N8N_DIAGNOSTICS_ENABLED": "false",
        "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
        "N8N_PERSONALIZATION_ENABLED": "false",
        "N8N_RUNNERS_ENABLED": "false",
        "N8N_SECURE_COOKIE": "false",
        "N8N_EXPRESSION_ENGINE": "legacy",
        "N8N_LOG_LEVEL": "warn",
        "GENERIC_TIMEZONE": "UTC",
    }
    n8n = str(N8N_DIR / "node_modules" / ".bin" / "n8n")
    inputs: dict[str, list[object]] = {}
    for name, path in cases.items():
        doc = json.loads(path.read_text())
        doc["active"] = True
        staged = home / f"import-{name}.json"
        home.mkdir(parents=True, exist_ok=True)
        staged.write_text(json.dumps(doc))
        print(f"  importing {name} …", flush=True)
        subprocess.run(
            [n8n, "import:workflow", f"--input={staged}"], env=env, check=True, capture_output=True
        )
        inputs_file = path.with_name(path.stem + ".inputs.json")
        inputs[name] = json.loads(inputs_file.read_text()) if inputs_file.exists() else [{"orderId": 1042}]
    subprocess.run([n8n, "update:workflow", "--all", "--active=true"], env=env, capture_output=True)
    mock = serve_mock()
    print("  starting n8n …", flush=True)
    proc = subprocess.Popen([n8n, "start"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    recorded = {}
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=5)
                break
            except OSError:
                time.sleep(2)
        for name, path in cases.items():
            doc = json.loads(path.read_text())
            hook = next(n for n in doc["nodes"] if n["type"] == "n8n-nodes-base.webhook")
            url = f"http://127.0.0.1:{PORT}/webhook/{hook['parameters']['path']}"
            runs = []
            for body in inputs[name]:
                for _ in range(30):  # activation may lag the health check
                    status, response = post(url, body)
                    if status != 404:
                        break
                    time.sleep(2)
                runs.append({"input": body, "status": status, "response": response})
                print(f"  {name}: {status} {json.dumps(response)[:160]}", flush=True)
            EXPECTED.mkdir(parents=True, exist_ok=True)
            (EXPECTED / f"{name}.json").write_text(
                json.dumps({"n8n_version": "1.123.81", "runs": runs}, indent=1) + "\n"
            )
            recorded[name] = len(runs)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        mock.shutdown()
    print(json.dumps({"recorded": recorded}))


if __name__ == "__main__":
    main()
