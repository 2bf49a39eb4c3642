"""A local HTTP file server on 127.0.0.1 for download tests.

Serves a folder with HEAD, GET and byte ranges (``Accept-Ranges: bytes``), logs every
request, and can misbehave per path: ``faults[path]`` = ``"404"`` (not found), ``"html"``
(an HTML page with status 200), ``"cut"`` (announce the full length, send half, close),
``"no_range"`` (ignore Range headers), ``"no_head"`` (HEAD answered 405), ``"no_length"`` (no
Content-Length: the body ends when the connection closes), ``"no_length_cut_once"`` (that, and
the first GET dropped halfway), ``"503_once"`` (the first request is a 503). Every response
carries an ``ETag`` of the file's bytes, and a Range with a stale ``If-Range`` gets the whole
file (200), as RFC 9110 says.
"""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HTML = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>\n"


class _Handler(BaseHTTPRequestHandler):
    server: FileServer

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _serve(self, body: bool) -> None:
        srv = self.server
        path = self.path.split("?")[0].lstrip("/")
        srv.requests.append((self.command, path, self.headers.get("Range")))
        fault = srv.faults.get(path)
        file = srv.root / path
        if fault == "404" or (fault is None and not file.is_file()):
            self.send_error(404)
            return
        if fault == "no_head" and not body:
            self.send_error(405)
            return
        if fault == "503_once":
            del srv.faults[path]
            self.send_error(503)
            return
        data = HTML if fault == "html" else file.read_bytes()
        etag = '"' + hashlib.md5(data).hexdigest() + '"'
        start = 0
        rng = self.headers.get("Range")
        stale = self.headers.get("If-Range") not in (None, etag)
        if rng and fault != "no_range" and not stale:
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        if fault in ("no_length", "no_length_cut_once"):
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.end_headers()
        if not body:
            return
        payload = data[start:]
        if fault == "no_length_cut_once":
            payload = payload[: len(payload) // 2]
            srv.faults[path] = "no_length"
        if fault == "cut" and not rng:
            payload = payload[: len(payload) // 2]
            self.wfile.write(payload)
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._serve(True)

    def do_HEAD(self) -> None:
        self._serve(False)


class FileServer(ThreadingHTTPServer):
    """Serve ``root`` on 127.0.0.1 (a free port) in a background thread."""

    daemon_threads = True

    def __init__(self, root: Path):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = Path(root)
        self.faults: dict[str, str] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

    def gets(self, path: str) -> list[str | None]:
        """Range headers of the GET requests for ``path`` (None = whole file)."""
        return [r for m, p, r in self.requests if m == "GET" and p == path]


class _HubHandler(BaseHTTPRequestHandler):
    """The part of the Hugging Face Hub API that ``snapshot_download`` uses, for one repo."""

    server: HubServer

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str], with_body: bool) -> None:
        self.send_response(status)
        for k, v in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(k, v)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _serve(self, with_body: bool) -> None:
        import hashlib
        import json

        srv = self.server
        path = self.path.split("?")[0]
        srv.requests.append((self.command, path))
        repo, sha = srv.repo, srv.commit
        files = sorted(p for p in srv.root.rglob("*") if p.is_file())
        if path in (f"/api/models/{repo}", f"/api/models/{repo}/revision/main",
                    f"/api/models/{repo}/revision/{sha}"):  # fmt: skip
            body = json.dumps({"id": repo, "sha": sha, "siblings": [
                {"rfilename": str(p.relative_to(srv.root))} for p in files]}).encode()  # fmt: skip
            return self._send(200, body, {"Content-Type": "application/json"}, with_body)
        if path.startswith(f"/api/models/{repo}/tree/{sha}"):
            entries = [
                {
                    "type": "file",
                    "path": str(p.relative_to(srv.root)),
                    "size": p.stat().st_size,
                    "oid": hashlib.sha1(p.read_bytes()).hexdigest(),
                }
                for p in files
            ]
            return self._send(200, json.dumps(entries).encode(), {}, with_body)
        prefix = f"/{repo}/resolve/"
        if path.startswith(prefix):
            rev, _, name = path[len(prefix) :].partition("/")
            file = srv.root / name
            if rev in (sha, "main") and file.is_file():
                data = file.read_bytes()
                etag = '"' + hashlib.sha256(data).hexdigest() + '"'
                return self._send(200, data, {"X-Repo-Commit": sha, "ETag": etag}, with_body)
        self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"},
                   with_body)  # fmt: skip

    def do_GET(self) -> None:
        self._serve(True)

    def do_HEAD(self) -> None:
        self._serve(False)


class HubServer(ThreadingHTTPServer):
    """Serve the files of ``root`` as the Hub repository ``repo`` at commit ``commit``."""

    daemon_threads = True

    def __init__(self, root: Path, repo: str, commit: str):
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.root, self.repo, self.commit = Path(root), repo, commit
        self.requests: list[tuple[str, str]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    url = FileServer.url
    __enter__ = FileServer.__enter__
    __exit__ = FileServer.__exit__
