"""Network middlemen for end-to-end tests: a throwaway certificate authority, a TLS-terminating
relay in front of the plain Prefect server, and an HTTP forward proxy (CONNECT and absolute-form).

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
from pathlib import Path
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
