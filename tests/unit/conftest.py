"""A local HTTP(S) server on 127.0.0.1 that serves well and badly, for the download tests.

Paths (``server.url(path)``):

- ``/ok/<name>``: the registered body with its Content-Length;
- ``/short/<name>``: a Content-Length of the whole body, half of it, then the connection closes;
- ``/chunked-cut/<name>``: chunked transfer encoding, the first chunk, then the connection closes;
- ``/chunked/<name>``: the whole body, chunked, properly terminated;
- ``/trickle/<name>``: one byte every ``server.trickle_s`` seconds;
- ``/stall/<name>``: the headers, then nothing;
- ``/redirect/<name>``: a 302 to ``server.redirects[name]`` (any URL: https, http, ftp, file);
- anything else: 404.

``https_server`` is the same over TLS with a certificate signed by a throw-away CA, which
the test trusts through ``SSL_CERT_FILE`` (made with the openssl command line tool).
"""

import shutil
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        server = self.server
        server.requests.append(self.path)
        parts = self.path.strip("/").split("/", 1)
        kind, name = (parts + [""])[:2]
        if kind == "redirect" and name in server.redirects:
            self.send_response(302)
            self.send_header("Location", server.redirects[name])
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return
        body = server.bodies.get(name)
        if body is None or kind not in {
            "ok",
            "short",
            "chunked-cut",
            "chunked",
            "trickle",
            "stall",
        }:
            self.send_error(404, "Not Found")
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if kind.startswith("chunked"):
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                half = body[: len(body) // 2]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))
                if kind == "chunked":
                    rest = body[len(half) :]
                    self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if kind == "ok":
                self.wfile.write(body)
            elif kind == "short":
                self.wfile.write(body[: len(body) // 2])
            elif kind == "trickle":
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    if server.stop.wait(server.trickle_s):
                        break
            elif kind == "stall":
                self.wfile.flush()
                server.stop.wait(30)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        self.close_connection = True


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[str] = []
        self.trickle_s = 0.2
        self.stop = threading.Event()
        self.scheme = "http"
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)
            self.scheme = "https"

    def serve(self, name: str, body: bytes) -> None:
        self.bodies[name] = body

    def url(self, path: str) -> str:
        host, port = self.server_address[:2]
        host = "localhost" if self.scheme == "https" else host  # the certificate's name
        return f"{self.scheme}://{host}:{port}/{path.lstrip('/')}"


def _start(server: LocalServer):
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return thread


def _stop(server: LocalServer, thread) -> None:
    server.stop.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def http_server():
    server = LocalServer()
    thread = _start(server)
    yield server
    _stop(server, thread)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> dict[str, Path]:
    """A throw-away CA and a localhost/127.0.0.1 certificate it signed."""
    if not shutil.which("openssl"):
        pytest.skip("the openssl command line tool is absent")
    d = tmp_path_factory.mktemp("tls")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=fmeval test CA",
        cwd=d,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
        cwd=d,
    )
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        cwd=d,
    )
    return {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}


@pytest.fixture
def https_server(tls_files, monkeypatch):
    """The same server over TLS; SSL_CERT_FILE makes the client trust its CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files["cert"], tls_files["key"])
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files["ca"]))
    server = LocalServer(context)
    thread = _start(server)
    yield server
    _stop(server, thread)


def wait_until(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
