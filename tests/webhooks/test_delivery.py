"""The SSRF-safe client on its own: which URLs and addresses it refuses (in every spelling), that
it connects only to the address it checked, and that it bounds what a receiver can make it do
(redirects, slow answers, big bodies, many headers). No database: these are pure checks and a
real socket server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from kiln.webhooks import delivery
from kiln.webhooks.delivery import BlockedUrl, DeliveryError, Timeouts
from tests.webhooks.conftest import Answer, FakeDns, Receiver

LOCALHOST = "Requests to localhost are not allowed"
LOOPBACK = "Requests to loopback addresses are not allowed"
LOCAL_NETWORK = "Requests to the local network are not allowed"
LINK_LOCAL = "Requests to the link local network are not allowed"
SHARED = "Requests to the shared address space are not allowed"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1/hook", LOCALHOST),
        ("http://127.0.0.2:8080/hook", LOOPBACK),
        ("http://[::1]/hook", LOCALHOST),
        ("http://[::ffff:127.0.0.1]/hook", LOCALHOST),
        ("http://[::ffff:7f00:1]/hook", LOCALHOST),
        ("http://[0:0:0:0:0:ffff:127.0.0.1]/", LOCALHOST),
        ("http://169.254.169.254/latest/meta-data/", LINK_LOCAL),
        ("http://[::ffff:169.254.169.254]/", LINK_LOCAL),
        ("http://[fe80::1]/", LINK_LOCAL),
        ("http://[fe80::1%25eth0]/", LINK_LOCAL),
        ("http://0x7f000001/", LOCALHOST),
        ("http://0X7F000001/", LOCALHOST),
        ("http://2130706433/", LOCALHOST),
        ("http://0177.0.0.1/", LOCALHOST),
        ("http://0177.0000.0000.0001/", LOCALHOST),
        ("http://127.1/", LOCALHOST),
        ("http://127.0.1/", LOCALHOST),
        ("http://0x7f.0x0.0x0.0x1/", LOCALHOST),
        ("http://017700000001/", LOCALHOST),
        ("http://localhost/", LOCALHOST),
        ("http://LOCALHOST./", LOCALHOST),
        ("http://api.localhost/", LOCALHOST),
        ("http://0.0.0.0/", LOCALHOST),
        ("http://0/", LOCALHOST),
        ("http://[::]/", LOCALHOST),
        ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", LOCALHOST),  # fullwidth digits
        ("http://10.0.0.1/", LOCAL_NETWORK),
        ("http://172.16.5.4/", LOCAL_NETWORK),
        ("http://192.168.0.1/", LOCAL_NETWORK),
        ("http://[fd00:ec2::254]/", LOCAL_NETWORK),
        ("http://[fc00::1]/", LOCAL_NETWORK),
        ("http://100.64.0.1/", SHARED),
        ("http://100.100.100.200/", SHARED),  # a cloud metadata service in the shared space
        ("http://[64:ff9b::7f00:1]/", LOCALHOST),  # NAT64 of 127.0.0.1
        ("http://[2002:7f00:1::]/", LOCALHOST),  # 6to4 of 127.0.0.1
        ("http://[::127.0.0.1]/", LOCALHOST),  # IPv4-compatible
        ("http://192.0.2.10/", LOCAL_NETWORK),  # documentation range
        ("http://198.18.0.1/", LOCAL_NETWORK),  # benchmarking range
        ("http://224.0.0.1/", "Requests to multicast addresses are not allowed"),
        ("http://[ff02::1]/", "Requests to multicast addresses are not allowed"),
        ("http://255.255.255.255/", "Requests to the limited broadcast address are not allowed"),
        ("http://240.0.0.1/", "Requests to reserved addresses are not allowed"),
    ],
)
def test_local_and_special_addresses_are_refused_in_every_spelling(url: str, message: str) -> None:
    with pytest.raises(BlockedUrl) as refused:
        delivery.validate_url(url, allow_local=False)
    assert str(refused.value) == message
    with pytest.raises(BlockedUrl):
        delivery.resolve_target(url, allow_local=False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "Only allowed schemes are http, https"),
        ("javascript:alert(1)", "Only allowed schemes are http, https"),
        ("file:///etc/passwd", "Only allowed schemes are http, https"),
        ("gopher://127.0.0.1:6379/_INFO", "Only allowed schemes are http, https"),
        ("http://exa mple.com/", "URI is invalid"),
        ("http://example.com/a\r\nX-Injected: 1", "URI is invalid"),
        ("http://example.com\\@127.0.0.1/", "URI is invalid"),
        ("http:///path-only", "Host cannot be resolved or invalid"),
        ("http://[::1/", "URI is invalid"),
        ("http://example.com:99999/", "URI is invalid"),
        ("http://example.com:0/", "URI is invalid"),
        ("http://256.256.256.256/", "Hostname or IP address invalid"),
        ("http://0x/", "Hostname or IP address invalid"),
        ("http://08.0.0.1/", "Hostname or IP address invalid"),
        ("http://-bad.example/", "Hostname or IP address invalid"),
        ("http://%31%32%37.0.0.1/", "Hostname or IP address invalid"),
        ("", "URI is invalid"),
        ("http://example.com/" + "a" * 3000, "URI is invalid"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(BlockedUrl) as refused:
        delivery.validate_url(url, allow_local=True)
    assert str(refused.value) == message


def test_userinfo_tricks_resolve_the_real_host() -> None:
    # Everything before the last "@" is credentials; the host is what comes after it.
    parsed = delivery.parse_url("http://127.0.0.1:80@93.184.215.14/hook")
    assert parsed.host == "93.184.215.14"
    assert parsed.username == "127.0.0.1"
    with pytest.raises(BlockedUrl):
        delivery.validate_url("http://user:pw@127.0.0.1/", allow_local=False)


def test_public_addresses_and_names_pass(dns: FakeDns) -> None:
    dns.records["hooks.example.com"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert delivery.validate_url("https://93.184.215.14/hook", allow_local=False).port == 443
    target = delivery.resolve_target("http://hooks.example.com:8080/h?q=1", allow_local=False)
    assert [str(a) for a in target.addresses] == [
        "93.184.215.14",
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    ]
    assert target.url.target == "/h?q=1"
    assert target.url.host_header == "hooks.example.com:8080"


def test_one_local_answer_refuses_the_whole_name(dns: FakeDns) -> None:
    dns.records["mixed.example.com"] = ["93.184.215.14", "127.0.0.1"]
    dns.records["meta.example.com"] = ["169.254.169.254"]
    dns.records["mapped.example.com"] = ["::ffff:10.0.0.1"]
    with pytest.raises(BlockedUrl, match="localhost"):
        delivery.resolve_target("http://mixed.example.com/", allow_local=False)
    with pytest.raises(BlockedUrl, match="link local"):
        delivery.validate_url("http://meta.example.com/", allow_local=False)
    with pytest.raises(BlockedUrl, match="local network"):
        delivery.resolve_target("http://mapped.example.com/", allow_local=False)


def test_unresolvable_names_pass_creation_but_not_delivery(dns: FakeDns) -> None:
    assert delivery.validate_url("http://later.example.com/", allow_local=False)
    with pytest.raises(BlockedUrl) as refused:
        delivery.resolve_target("http://later.example.com/", allow_local=False)
    assert str(refused.value) == "Host cannot be resolved or invalid"


def test_localhost_names_never_reach_the_resolver(dns: FakeDns) -> None:
    dns.records["localhost"] = ["93.184.215.14"]  # a lying resolver changes nothing
    with pytest.raises(BlockedUrl, match="localhost"):
        delivery.resolve_target("http://localhost/", allow_local=False)
    assert dns.lookups == []


def test_the_admin_setting_allows_local_but_never_multicast_or_broadcast() -> None:
    for url in (
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://10.1.2.3/",
        "http://169.254.169.254/",
        "http://localhost:9000/",
    ):
        delivery.validate_url(url, allow_local=True)
    for url in ("http://224.0.0.251/", "http://255.255.255.255/", "http://[ff02::1]/"):
        with pytest.raises(BlockedUrl):
            delivery.validate_url(url, allow_local=True)


# -- the connection -------------------------------------------------------------------------


def _post(url: str, *, allow_local: bool = True, **kwargs: object) -> delivery.Response:
    target = delivery.resolve_target(url, allow_local=allow_local)
    return delivery.post(target, body=b"{}", headers={"X-Test": "1"}, **kwargs)  # type: ignore[arg-type]


def test_connects_to_the_checked_address_with_the_name_as_host(
    receiver: Receiver, dns: FakeDns
) -> None:
    # `receiver.test` exists only in the fake DNS: the request can only arrive if the client
    # connected to the address it resolved and checked, not to the name.
    dns.records["receiver.test"] = ["127.0.0.1"]
    response = _post(f"http://receiver.test:{receiver.port}/in?x=1")
    assert response.status == 200
    (request,) = receiver.requests
    assert request.path == "/in?x=1"
    assert request.headers["Host"] == f"receiver.test:{receiver.port}"
    assert request.headers["X-Test"] == "1"
    assert dns.lookups == ["receiver.test"]


def test_dns_rebinding_cannot_move_the_connection(receiver: Receiver, dns: FakeDns) -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    dns.records["rebind.test"] = lambda: next(answers)
    # Checked once at creation (public)...
    delivery.validate_url(f"http://rebind.test:{receiver.port}/", allow_local=False)
    # ...and at delivery the name now points home: refused, nothing sent.
    with pytest.raises(BlockedUrl, match="localhost"):
        delivery.resolve_target(f"http://rebind.test:{receiver.port}/", allow_local=False)
    assert receiver.requests == []


def test_redirects_are_answers_not_followed(make_receiver: object) -> None:
    make = make_receiver  # type: ignore[assignment]
    first, second = make(), make()  # type: ignore[operator]
    first.script(Answer(status=302, headers={"Location": f"{second.url}/internal"}, body=b""))
    response = _post(f"{first.url}/hook")
    assert response.status == 302
    assert dict(response.headers)["Location"] == f"{second.url}/internal"
    time.sleep(0.2)
    assert len(first.requests) == 1
    assert second.requests == []


def test_response_body_and_headers_are_capped(receiver: Receiver) -> None:
    headers = {f"X-H{i:02d}": "v" for i in range(60)}
    headers["X-Long"] = "z" * 5000
    receiver.script(Answer(body=b"a" * (1024 * 1024), headers=headers))
    response = _post(f"{receiver.url}/big")
    assert response.status == 200
    assert len(response.body) == delivery.MAX_RESPONSE_BODY_BYTES
    assert response.truncated is True
    assert len(response.headers) == delivery.MAX_RESPONSE_HEADERS
    receiver.script(Answer(headers={"X-Long": "z" * 5000}))
    long = dict(_post(f"{receiver.url}/long").headers)["X-Long"]
    assert len(long) == delivery.MAX_RESPONSE_HEADER_BYTES


def test_a_slow_receiver_times_out(receiver: Receiver) -> None:
    receiver.script(Answer(delay=2.0))
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="execution expired"):
        _post(f"{receiver.url}/slow", timeouts=Timeouts(connect=1, read=0.3, total=5))
    assert time.monotonic() - started < 1.9  # well before the 2 s answer


@pytest.fixture
def trickler() -> Iterator[int]:
    """A server that answers one byte every 0.1 s forever (each read is quick, the whole is
    not): only the total timeout stops it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.settimeout(10)
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break
                    time.sleep(0.1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()


def test_a_trickling_receiver_hits_the_total_timeout(trickler: int) -> None:
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"after 0\.8 seconds"):
        _post(f"http://127.0.0.1:{trickler}/", timeouts=Timeouts(connect=1, read=1, total=0.8))
    assert time.monotonic() - started < 2


def test_connection_refused_is_a_delivery_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DeliveryError, match="Connection refused"):
        _post(f"http://127.0.0.1:{port}/")


def test_header_injection_is_refused_before_sending(receiver: Receiver) -> None:
    target = delivery.resolve_target(receiver.url, allow_local=True)
    with pytest.raises(DeliveryError):
        delivery.post(target, body=b"{}", headers={"X-Evil": "a\r\nX-Injected: 1"})
    assert receiver.requests == []


def _read_request(conn: socket.socket) -> bytes:
    """The whole request (headers and Content-Length body): closing a socket with unread data
    would reset the connection under the client's feet."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return data


@pytest.fixture
def tls_receiver(tmp_path: object) -> Iterator[tuple[int, list[str | None]]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for `receiver.test`; it
    records the name each client asked for (SNI)."""
    import datetime as dt
    import ssl
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "receiver.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("receiver.test")]), False)
        .sign(key, hashes.SHA256())
    )
    directory = Path(str(tmp_path))
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    names: list[str | None] = []
    context.sni_callback = lambda sock, server_name, ctx: names.append(server_name)  # type: ignore[assignment,misc,return-value]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                continue
            raw.settimeout(10)  # not the listener's short accept timeout
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    _read_request(conn)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            except (OSError, ssl.SSLError):
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1]), names
    finally:
        stop.set()
        listener.close()


def test_tls_uses_the_name_for_sni_and_verification(
    tls_receiver: tuple[int, list[str | None]], dns: FakeDns
) -> None:
    port, names = tls_receiver
    dns.records["receiver.test"] = ["127.0.0.1"]
    url = f"https://receiver.test:{port}/hook"
    # The self-signed certificate is refused when verification is on...
    with pytest.raises(DeliveryError, match="SSL error"):
        _post(url, verify_tls=True)
    # ...and accepted when the hook turned it off; both times SNI carried the name.
    assert _post(url, verify_tls=False).body == b"ok"
    assert names == ["receiver.test", "receiver.test"]
