"""An https API behind a TLS relay whose certificate a throwaway CA signed (PREFECT_API_SSL_CERT_FILE,
PREFECT_API_TLS_INSECURE_SKIP_VERIFY, and the exit on an untrusted certificate), and the worker's
requests through an HTTP proxy (HTTP_PROXY / HTTPS_PROXY, lower-case too, and NO_PROXY).

The relay and the proxy (network_fixtures.py) sit in front of the session's plain Prefect server on
127.0.0.1 and count what went through them. Proxy and TLS variables from the machine are removed so
that only what a test sets reaches the worker."""
import pytest

from network_fixtures import ForwardProxy, TLSRelay, make_certificates
from prefect_harness import TERMINAL, free_port, wait_for

MACHINE_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
                     "ALL_PROXY", "all_proxy", "PREFECT_API_SSL_CERT_FILE", "PREFECT_API_TLS_INSECURE_SKIP_VERIFY",
                     "SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture(autouse=True)
def nothing_from_the_machine(monkeypatch):
    """The worker copies os.environ: none of these may come from wherever the tests run."""
    for name in MACHINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """(ca.pem, server.pem, server-key.pem) of a CA nobody else trusts."""
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture
def relay(server, certificates):
    """https://127.0.0.1:<port>/api in front of the session's server, with the throwaway CA's certificate."""
    _, cert, key = certificates
    with TLSRelay(server.port, cert, key) as instance:
        yield instance


@pytest.fixture
def proxy():
    with ForwardProxy() as instance:
        yield instance


def dead_proxy() -> str:
    """A proxy URL where nothing listens: a worker that used it could not reach the server."""
    return f"http://127.0.0.1:{free_port()}"


def command_run(api, pool) -> str:
    return api.create_run(api.create_deployment(pool, job_variables={"command": "true"}))


def final_state(api, worker, run_id: str, timeout: float = 60) -> str:
    """The run's terminal state type; fails at once, with the worker's output, if the worker exits first."""
    wait_for(lambda: worker.process.poll() is not None or api.run(run_id)["state_type"] in TERMINAL,
             timeout, f"flow run {run_id} to finish")
    assert worker.process.poll() is None, (
        f"the worker exited with code {worker.process.returncode}: {worker.output()[-2000:]}")
    return api.wait_terminal(run_id, timeout=10)["state_type"]


def wait_subscribed(worker, timeout: float = 30):
    wait_for(lambda: "subscribed to the event stream" in worker.output(), timeout, "the event stream subscription")


def test_an_https_server_signed_by_the_ca_in_prefect_api_ssl_cert_file_is_trusted(api, pool, certificates, relay,
                                                                                   start_worker):
    """REST and the event stream (wss://.../api/events/out) both go through the relay."""
    ca, _, _ = certificates
    run_id = command_run(api, pool)
    worker = start_worker(pool, api_url=relay.url, env={"PREFECT_API_SSL_CERT_FILE": str(ca)})
    assert final_state(api, worker, run_id) == "COMPLETED"
    wait_subscribed(worker)
    assert relay.connections >= 1
    assert relay.handshake_failures == 0, relay.handshake_errors


def test_an_untrusted_certificate_is_an_exit_with_code_1_naming_prefect_api_ssl_cert_file(pool, relay, start_worker):
    worker = start_worker(pool, api_url=relay.url)
    wait_for(lambda: worker.process.poll() is not None, 45, "the worker to exit on the untrusted certificate")
    output = worker.output()
    assert worker.process.returncode == 1, output
    assert [line for line in output.splitlines() if "PREFECT_API_SSL_CERT_FILE" in line], output
    assert relay.handshake_failures >= 1, "the worker rejected the certificate during the handshake"
    assert relay.connections == 0, "no handshake may succeed without the CA"


def test_prefect_api_tls_insecure_skip_verify_accepts_any_certificate(api, pool, relay, start_worker):
    run_id = command_run(api, pool)
    worker = start_worker(pool, api_url=relay.url, env={"PREFECT_API_TLS_INSECURE_SKIP_VERIFY": "true"})
    assert final_state(api, worker, run_id) == "COMPLETED"
    wait_subscribed(worker)
    assert relay.connections >= 1
    assert relay.handshake_failures == 0, relay.handshake_errors


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_http_proxy_carries_the_rest_requests_and_the_event_stream_to_an_http_server(api, pool, server, proxy,
                                                                                    start_worker, variable):
    """HTTPS_PROXY is for https URLs only: here it names a dead proxy, which must not matter. The
    HTTP client tunnels plain http through CONNECT too (it sends no absolute-form requests). With a
    minute between polls, a run created after the subscription starts at once only if the event
    stream came through the tunnel."""
    worker = start_worker(pool, env={variable: proxy.url, "HTTPS_PROXY": dead_proxy(), "PREFECT_WORKER_QUERY_SECONDS": "60"})
    wait_subscribed(worker)
    run_id = command_run(api, pool)
    assert final_state(api, worker, run_id, timeout=20) == "COMPLETED"
    assert f"127.0.0.1:{server.port}" in proxy.connects, (proxy.requests, proxy.connects)
    assert proxy.refused == []


@pytest.mark.parametrize("variable, value", [("NO_PROXY", "127.0.0.1"), ("no_proxy", "*"),
                                             ("NO_PROXY", "example.com, 127.0.0.1")])
def test_a_host_in_no_proxy_is_reached_directly(api, pool, proxy, start_worker, variable, value):
    run_id = command_run(api, pool)
    worker = start_worker(pool, env={"HTTP_PROXY": proxy.url, variable: value})
    assert final_state(api, worker, run_id) == "COMPLETED"
    assert proxy.requests == [] and proxy.connects == [], (proxy.requests, proxy.connects)


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_https_proxy_tunnels_to_an_https_server_with_connect(api, pool, certificates, relay, proxy, start_worker,
                                                            variable):
    """The CA still applies inside the tunnel, for REST and the event stream (a minute between
    polls: the run starts at once only through the stream); HTTP_PROXY names a dead proxy."""
    ca, _, _ = certificates
    worker = start_worker(pool, api_url=relay.url, env={variable: proxy.url, "HTTP_PROXY": dead_proxy(),
                                                        "PREFECT_API_SSL_CERT_FILE": str(ca),
                                                        "PREFECT_WORKER_QUERY_SECONDS": "60"})
    wait_subscribed(worker)
    run_id = command_run(api, pool)
    assert final_state(api, worker, run_id, timeout=20) == "COMPLETED"
    assert relay.address in proxy.connects, proxy.connects
    assert proxy.requests == [], "an https request never goes to the proxy in absolute form"
    assert relay.connections >= 1 and relay.handshake_failures == 0, relay.handshake_errors
