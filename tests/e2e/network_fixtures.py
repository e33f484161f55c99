"""Network middlemen for end-to-end tests: a throwaway certificate authority, a TLS-terminating
relay in front of the plain Prefect server, an HTTP forward proxy (CONNECT and absolute-form), and a
fault-injecting reverse proxy (503 answers, going down and up, a cut after a given request).

Each middleman runs an asyncio event loop in a daemon thread, listens on 127.0.0.1 on a port the
kernel picks, only ever connects to 127.0.0.1, and counts what it saw so a test can assert on it.
Use them as context managers (or `start()` / `stop()`); `stop()` closes every connection.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"
HANDSHAKE_TIMEOUT = 10.0


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate it signed, valid for DNS:localhost and IP:127.0.0.1.

    Writes ca.pem, server.pem and server-key.pem into `directory` (created if missing) and returns
    (ca_pem_path, server_cert_path, server_key_path)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=30)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prefect-worker e2e test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    """Copies bytes from `reader` to `writer` until EOF or an error on either side."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError, ConnectionError):
        pass


async def _close(writer: asyncio.StreamWriter | None):
    if writer is None:
        return
    try:
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2)
    except (OSError, ssl.SSLError, ConnectionError, asyncio.TimeoutError):
        pass


async def _relay(client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter]):
    """Bytes both ways until either side closes, then closes both (a TLS side cannot half-close)."""
    directions = [asyncio.ensure_future(_pipe(client[0], upstream[1])),
                  asyncio.ensure_future(_pipe(upstream[0], client[1]))]
    try:
        await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for direction in directions:
            direction.cancel()
        await asyncio.gather(*directions, return_exceptions=True)
        await _close(upstream[1])
        await _close(client[1])


class _LoopService:
    """A TCP server on 127.0.0.1:<kernel-picked port> driven by an asyncio loop in a daemon thread.
    Subclasses implement `_serve(reader, writer)` for each accepted connection."""

    def __init__(self, name: str):
        self.name = name
        self.port: int | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    def start(self):
        if self._thread is not None:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self.name, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accepted, LOOPBACK, 0), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self):
        """Stops listening, closes every connection and ends the thread; safe to call twice."""
        if self._thread is None:
            return
        loop, thread = self._loop, self._thread
        self._thread = None

        async def shutdown():
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(15)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=15)
            if not thread.is_alive():
                loop.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, ssl.SSLError, ConnectionError, ValueError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            pass
        finally:
            await _close(writer)
            self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        raise NotImplementedError


class TLSRelay(_LoopService):
    """Terminates TLS with `cert`/`key` on 127.0.0.1:<port> and relays the plain bytes, both ways,
    to 127.0.0.1:`target_port` (HTTP keep-alive and WebSocket upgrades included, since it never
    looks at them).

    `connections` counts completed TLS handshakes; `handshake_failures` counts connections whose
    handshake failed (a client that rejects the certificate aborts it), with the reasons in
    `handshake_errors`."""

    def __init__(self, target_port: int, cert: Path, key: Path):
        super().__init__(f"tls-relay->{target_port}")
        self.target_port = target_port
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(str(cert), str(key))
        self._connections = 0
        self._handshake_errors: list[str] = []

    @property
    def url(self) -> str:
        """The Prefect API URL through the relay: https://127.0.0.1:<port>/api."""
        return f"https://{LOOPBACK}:{self.port}/api"

    @property
    def localhost_url(self) -> str:
        """The same, by the name the certificate also carries: https://localhost:<port>/api."""
        return f"https://localhost:{self.port}/api"

    @property
    def address(self) -> str:
        """"127.0.0.1:<port>", as a CONNECT request names the relay."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    @property
    def handshake_failures(self) -> int:
        with self._lock:
            return len(self._handshake_errors)

    @property
    def handshake_errors(self) -> list[str]:
        with self._lock:
            return list(self._handshake_errors)

    async def _serve(self, reader, writer):
        try:
            await writer.start_tls(self._context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        except (OSError, ssl.SSLError, ConnectionError, asyncio.TimeoutError) as error:
            with self._lock:
                self._handshake_errors.append(f"{type(error).__name__}: {error}")
            return
        with self._lock:
            self._connections += 1
        upstream = await asyncio.open_connection(LOOPBACK, self.target_port)
        await _relay((reader, writer), upstream)


class ForwardProxy(_LoopService):
    """An HTTP proxy on 127.0.0.1:<port>, as HTTPS_PROXY / HTTP_PROXY name one.

    - `CONNECT host:port` answers 200 and tunnels bytes (recorded in `connects` as "host:port");
    - absolute-form requests (`GET http://host:port/path HTTP/1.1`, any method, with a
      Content-Length or chunked body, keep-alive) go to the target in origin form, and the answers
      come back as the server sends them (each URL recorded in `requests`). A connection keeps one
      upstream connection per target and closes when the target closes it. A request carrying
      `Upgrade` (WebSocket) switches the connection to a byte relay.
    Targets other than 127.0.0.1 / localhost are refused with 403 (recorded in `refused`)."""

    ALLOWED_HOSTS = {"127.0.0.1", "localhost"}

    def __init__(self):
        super().__init__("forward-proxy")
        self._connects: list[str] = []
        self._requests: list[str] = []
        self._refused: list[str] = []

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def connects(self) -> list[str]:
        with self._lock:
            return list(self._connects)

    @property
    def requests(self) -> list[str]:
        with self._lock:
            return list(self._requests)

    @property
    def refused(self) -> list[str]:
        with self._lock:
            return list(self._refused)

    def clear(self):
        """Forgets what was recorded so far."""
        with self._lock:
            self._connects.clear()
            self._requests.clear()
            self._refused.clear()

    def _record(self, into: list[str], value: str):
        with self._lock:
            into.append(value)

    async def _refuse(self, writer, target: str):
        self._record(self._refused, target)
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()

    @staticmethod
    async def _open(writer, port: int):
        """A connection to 127.0.0.1:`port`, or None after answering 502 when there is none."""
        try:
            return await asyncio.open_connection(LOOPBACK, port)
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            return None

    @staticmethod
    async def _bad_request(writer):
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()

    async def _serve(self, reader, writer):
        upstream_target: tuple[str, int] | None = None
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        answers: asyncio.Task | None = None  # upstream -> client

        async def relay_answers(up_reader):
            await _pipe(up_reader, writer)
            writer.close()  # the target closed: so does this proxy connection, as the target's would

        async def drop_upstream():
            nonlocal upstream, answers
            if answers is not None:
                answers.cancel()
                await asyncio.gather(answers, return_exceptions=True)
            if upstream is not None:
                await _close(upstream[1])
            upstream, answers = None, None

        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed between requests
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3:
                    await self._bad_request(writer)
                    return
                method, target, version = parts
                headers = [line for line in lines[1:] if line]
                fields = {}
                for line in headers:
                    name, _, value = line.partition(":")
                    fields[name.strip().lower()] = value.strip()

                if method.upper() == "CONNECT":
                    self._record(self._connects, target)
                    host, _, port = target.rpartition(":")
                    host = host.strip("[]")
                    if host not in self.ALLOWED_HOSTS or not port.isdigit():
                        await self._refuse(writer, target)
                        return
                    await drop_upstream()
                    tunnel = await self._open(writer, int(port))
                    if tunnel is None:
                        return
                    writer.write(f"{version} 200 Connection Established\r\n\r\n".encode("latin-1"))
                    await writer.drain()
                    await _relay((reader, writer), tunnel)
                    return

                url = urlsplit(target)
                if url.scheme != "http" or not url.hostname:
                    await self._bad_request(writer)
                    return
                self._record(self._requests, target)
                if url.hostname not in self.ALLOWED_HOSTS:
                    await self._refuse(writer, target)
                    return
                destination = (url.hostname, url.port or 80)
                if upstream is None or destination != upstream_target or answers.done():
                    await drop_upstream()
                    upstream = await self._open(writer, destination[1])
                    if upstream is None:
                        return
                    upstream_target = destination
                    answers = asyncio.ensure_future(relay_answers(upstream[0]))

                origin = (url.path or "/") + (f"?{url.query}" if url.query else "")
                kept = [line for line in headers if not line.lower().startswith(("proxy-connection:", "proxy-authorization:"))]
                if "host" not in fields:
                    kept.append(f"Host: {url.netloc}")
                up_writer = upstream[1]
                up_writer.write("\r\n".join([f"{method} {origin} {version}", *kept, "", ""]).encode("latin-1"))

                if "upgrade" in fields:  # a WebSocket: from here on it is not HTTP any more
                    await up_writer.drain()
                    await _pipe(reader, up_writer)
                    return
                if "chunked" in fields.get("transfer-encoding", "").lower():
                    await self._copy_chunked(reader, up_writer)
                elif fields.get("content-length", "0").strip() not in ("", "0"):
                    await self._copy_exactly(reader, up_writer, int(fields["content-length"]))
                await up_writer.drain()
        finally:
            await drop_upstream()

    @staticmethod
    async def _copy_exactly(reader, writer, count: int):
        while count > 0:
            data = await reader.read(min(count, 65536))
            if not data:
                raise asyncio.IncompleteReadError(b"", count)
            writer.write(data)
            await writer.drain()
            count -= len(data)

    @classmethod
    async def _copy_chunked(cls, reader, writer):
        while True:
            size_line = await reader.readuntil(b"\r\n")
            writer.write(size_line)
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers, then the blank line
                    trailer = await reader.readuntil(b"\r\n")
                    writer.write(trailer)
                    if trailer == b"\r\n":
                        return
            await cls._copy_exactly(reader, writer, size + 2)  # the data and its CRLF


RequestPredicate = Callable[[str, str], bool]  # (method, path) -> whether it applies


def _head_fields(head: bytes) -> tuple[str, list[str], dict[str, str]]:
    """Splits an HTTP head into its first line, its header lines, and the fields by lower-case name."""
    lines = head.decode("latin-1").split("\r\n")
    headers = [line for line in lines[1:] if line]
    fields = {}
    for line in headers:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return lines[0], headers, fields


def _without(headers: list[str], *names: str) -> list[str]:
    """The header lines whose field name is none of `names` (lower case)."""
    return [line for line in headers if line.partition(":")[0].strip().lower() not in names]


async def _read_body(reader: asyncio.StreamReader, fields: dict[str, str]) -> bytes:
    """The request body as it came (chunk framing kept), by Transfer-Encoding or Content-Length."""
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            body += size_line
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers, then the blank line
                    trailer = await reader.readuntil(b"\r\n")
                    body += trailer
                    if trailer == b"\r\n":
                        return bytes(body)
            body += await reader.readexactly(size + 2)  # the data and its CRLF
    length = fields.get("content-length", "").strip()
    return await reader.readexactly(int(length)) if length else b""


class FaultGateway(_LoopService):
    """A reverse proxy on 127.0.0.1:<port> in front of the Prefect server at 127.0.0.1:`target_port`,
    with faults a test switches while it runs, to play a busy or vanished server.

    Every connection carries one request and is closed after its answer (the answers say
    `Connection: close`; HTTP clients reconnect on their own). By mode:
    - passing (the start, and after `pass_through()`): the request goes to the server on a new
      connection with `Connection: close`, and the server's whole answer comes back with
      `Connection: close` (502 when the server refuses the connection). A WebSocket upgrade is
      forwarded as is; the server's answer head comes back and then bytes are relayed both ways.
    - `answer_503(predicate)`: the requests `predicate(method, path)` accepts (all without one) get
      503 with a JSON body, after their body was read; the others pass.
    - `go_down()` / `come_up()`: stops listening on the port (new connections are refused) and
      drops every open connection and relay / listens on the same port again.
    - `cut_after(predicate)`: the first passed request `predicate` accepts gets its answer, and then
      the gateway goes down; requests that arrive meanwhile on other connections are not forwarded
      (their connection is closed without an answer). `wait_cut()` waits for it.
    The path a predicate sees is the request target as sent (the query string included).

    Every request is recorded as (time.monotonic() when its head arrived, method, path, outcome),
    the outcome being the status the client got, or None when it got none (dropped by a cut or by
    going down, or still in flight)."""

    SERVICE_UNAVAILABLE_BODY = b'{"detail":"Service Unavailable"}'

    def __init__(self, target_port: int):
        super().__init__(f"fault-gateway->{target_port}")
        self.target_port = target_port
        self._records: list[list] = []  # [time, method, path, outcome], outcome filled in later
        self._answer_503 = False
        self._503_predicate: RequestPredicate | None = None
        self._cut_predicate: RequestPredicate | None = None
        self._cut = threading.Event()
        self._down = False
        self._refusing = False  # down, or a cut claimed its request: forward nothing more
        self._generation = 0  # counts the times the gateway went down

    @property
    def url(self) -> str:
        """The Prefect API URL through the gateway: http://127.0.0.1:<port>/api."""
        return f"http://{LOOPBACK}:{self.port}/api"

    @property
    def is_down(self) -> bool:
        with self._lock:
            return self._down

    # --- faults, switched from the test's thread ---

    def pass_through(self):
        """Passes every request again: ends 503 answers and disarms a cut not yet made. (It does
        not listen again after `go_down()` or a cut: that is `come_up()`.)"""
        with self._lock:
            self._answer_503, self._503_predicate = False, None
            self._cut_predicate = None

    def answer_503(self, predicate: RequestPredicate | None = None):
        """Answers 503 Service Unavailable to every request, or to those `predicate(method, path)`
        accepts (the others pass)."""
        with self._lock:
            self._answer_503, self._503_predicate = True, predicate

    def cut_after(self, predicate: RequestPredicate):
        """Arms a one-shot cut: the first passed request `predicate(method, path)` accepts gets its
        answer, then the gateway goes down as with `go_down()`."""
        with self._lock:
            self._cut_predicate = predicate
            self._cut.clear()

    def wait_cut(self, timeout: float = 30.0):
        """Waits until the armed cut happened (the gateway is down by then); AssertionError after
        `timeout` seconds."""
        if not self._cut.wait(timeout):
            raise AssertionError(f"{self.name}: no request matched the cut within {timeout} s")

    def go_down(self):
        """Stops listening (connections to the port are refused) and drops every open connection."""
        asyncio.run_coroutine_threadsafe(self._take_down(), self._loop).result(10)

    def come_up(self):
        """Listens again, on the same port, and passes requests as the mode says."""
        asyncio.run_coroutine_threadsafe(self._bring_up(), self._loop).result(10)

    # --- records ---

    def requests(self) -> list[tuple[float, str, str, int | None]]:
        """Every request so far, in arrival order: (monotonic time, method, path, outcome)."""
        with self._lock:
            return [tuple(record) for record in self._records]

    def count(self, method: str | None = None, path_contains: str | None = None,
              since: float | None = None, outcome: int | None = None) -> int:
        """How many requests with this method, a path containing this, arrived at or after this
        monotonic time and got this status (each criterion left None matches everything)."""
        return len(self._matching(method, path_contains, since, outcome))

    def times(self, method: str | None = None, path_contains: str | None = None) -> list[float]:
        """The monotonic arrival times of the matching requests, in order."""
        return [record[0] for record in self._matching(method, path_contains, None, None)]

    def clear(self):
        """Forgets the requests recorded so far."""
        with self._lock:
            self._records.clear()

    def _matching(self, method, path_contains, since, outcome) -> list[tuple]:
        return [record for record in self.requests()
                if (method is None or record[1].upper() == method.upper())
                and (path_contains is None or path_contains in record[2])
                and (since is None or record[0] >= since)
                and (outcome is None or record[3] == outcome)]

    def _record(self, method: str, path: str) -> list:
        record = [time.monotonic(), method, path, None]
        with self._lock:
            self._records.append(record)
        return record

    def _settle(self, record: list, outcome: int):
        with self._lock:
            record[3] = outcome

    # --- on the loop ---

    async def _take_down(self, spare: asyncio.Task | None = None):
        """Closes the listening socket and cancels every connection task but `spare`."""
        with self._lock:
            self._down = self._refusing = True
            self._generation += 1
        if self._server is not None:
            self._server.close()  # closes the listening socket at once; connections are ours to end
        tasks = [task for task in self._tasks if task is not spare]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _bring_up(self):
        with self._lock:
            if not self._down:
                return
        self._server = await asyncio.start_server(self._accepted, LOOPBACK, self.port, reuse_address=True)
        with self._lock:
            self._down = self._refusing = False

    async def _accepted(self, reader, writer):
        try:
            await super()._accepted(reader, writer)
        except asyncio.CancelledError:
            pass  # dropped by going down: Python 3.11's start_server would log a cancelled handler

    def _decide(self, method: str, path: str, generation: int) -> str:
        """"refuse" (forward nothing more), "503", "cut" (pass, then go down) or "pass"."""
        with self._lock:
            refusing = self._refusing or generation != self._generation
            answer_503, predicate_503, predicate_cut = self._answer_503, self._503_predicate, self._cut_predicate
        if refusing:
            return "refuse"
        if answer_503 and (predicate_503 is None or predicate_503(method, path)):
            return "503"
        matched = predicate_cut is not None and predicate_cut(method, path)  # outside the lock: user code
        with self._lock:  # checked again: another connection may have claimed the cut meanwhile
            if self._refusing or generation != self._generation:
                return "refuse"
            if matched and self._cut_predicate is predicate_cut:
                self._cut_predicate = None
                self._refusing = True
                return "cut"
        return "pass"

    async def _serve(self, reader, writer):
        with self._lock:
            generation = self._generation
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return  # closed without a request
        first_line, headers, fields = _head_fields(head)
        parts = first_line.split(" ")
        if len(parts) != 3:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            return
        method, path, version = parts
        record = self._record(method, path)
        if "100-continue" in fields.get("expect", "").lower():
            writer.write(f"{version} 100 Continue\r\n\r\n".encode("latin-1"))  # or the client waits for it
            await writer.drain()
            headers = _without(headers, "expect")
        body = await _read_body(reader, fields)

        decision = self._decide(method, path, generation)
        if decision == "refuse":
            return  # closed without an answer, as a vanished server's connection would be
        if decision == "503":
            await self._answer(writer, record, 503, "Service Unavailable", self.SERVICE_UNAVAILABLE_BODY)
            return
        try:
            if "upgrade" in fields:
                await self._upgrade(reader, writer, record, head + body, decision == "cut")
            else:
                request = "\r\n".join([first_line, *_without(headers, "connection", "keep-alive"),
                                       "Connection: close", "", ""]).encode("latin-1") + body
                await self._forward(writer, record, request)
        finally:
            if decision == "cut":  # after the answer was written, or when its request failed
                await self._cut_now()

    async def _cut_now(self):
        """Goes down, sparing the connection that made the cut (it ends when its answer is out)."""
        try:
            await self._take_down(spare=asyncio.current_task())
        finally:
            self._cut.set()

    async def _answer(self, writer, record: list, status: int, reason: str, body: bytes = b"",
                      content_type: str = "application/json"):
        self._settle(record, status)  # first: a test that reads the records once it has its answer sees it
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1") + body)
        await writer.drain()

    async def _open_upstream(self, writer, record: list):
        """A new connection to the server, or None after answering 502 when it refuses."""
        try:
            return await asyncio.open_connection(LOOPBACK, self.target_port)
        except OSError:
            await self._answer(writer, record, 502, "Bad Gateway", b'{"detail":"Bad Gateway"}')
            return None

    async def _forward(self, writer, record: list, request: bytes):
        """One request to the server on its own connection; its whole answer, `Connection: close`."""
        upstream = await self._open_upstream(writer, record)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        answer = bytearray()
        try:
            up_writer.write(request)
            await up_writer.drain()
            while data := await up_reader.read(65536):
                answer += data
        except (OSError, ConnectionError):
            pass  # keep what came: a whole head is still an answer
        finally:
            await _close(up_writer)
        head_end = answer.find(b"\r\n\r\n")
        status = self._status(answer[:head_end]) if head_end >= 0 else None
        if status is None:
            await self._answer(writer, record, 502, "Bad Gateway", b'{"detail":"Bad Gateway"}')
            return
        status_line, headers, _ = _head_fields(bytes(answer[:head_end + 4]))
        head = "\r\n".join([status_line, *_without(headers, "connection", "keep-alive"),
                            "Connection: close", "", ""]).encode("latin-1")
        self._settle(record, status)
        writer.write(head + answer[head_end + 4:])
        await writer.drain()

    async def _upgrade(self, reader, writer, record: list, request: bytes, cut: bool):
        """A WebSocket: the request as is, the server's answer head, then bytes both ways."""
        upstream = await self._open_upstream(writer, record)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        try:
            up_writer.write(request)
            await up_writer.drain()
            head = await up_reader.readuntil(b"\r\n\r\n")
        except (OSError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await _close(up_writer)
            await self._answer(writer, record, 502, "Bad Gateway", b'{"detail":"Bad Gateway"}')
            return
        self._settle(record, self._status(head) or 502)
        writer.write(head)
        await writer.drain()
        if cut:
            await _close(up_writer)  # the cut follows in _serve
            return
        await _relay((reader, writer), upstream)

    @staticmethod
    def _status(head: bytes) -> int | None:
        """The status code of an HTTP answer head ("HTTP/1.1 200 OK ..."), None when it is none."""
        parts = bytes(head).split(b"\r\n", 1)[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            return None
        return int(parts[1])
