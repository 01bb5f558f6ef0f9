"""The outbound HTTP client of webhooks, built against server-side request forgery.

What must hold, in order:

1. The URL is parsed once, here: scheme http or https, no control characters or whitespace,
   a host that is a DNS name or an IP address. Numeric hosts are read the way the C resolver
   reads them (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1` are all 127.0.0.1), so no
   spelling of an address slips past the checks as a "name".
2. The host is resolved once (through `resolver`, a seam tests can point elsewhere) and every
   address it resolves to is checked: loopback, the machine's own addresses, private and
   unique-local networks, link-local (cloud metadata at 169.254.169.254 included), the shared
   address space, and IPv4 addresses inside IPv6 ones (`::ffff:127.0.0.1`, NAT64, 6to4) are
   refused unless the admin setting allows local requests; multicast, broadcast and reserved
   addresses are refused always. One bad address refuses the whole name, as GitLab does.
3. The connection goes to an address that was checked, never to the name: the socket is opened
   to the IP, while the `Host` header and TLS (SNI and certificate) use the name. A DNS answer
   that changes between the check and the connection (rebinding) changes nothing.
4. Redirects are not followed (a 3xx is the answer, as GitLab logs it); connect, read and total
   time are bounded; at most `MAX_RESPONSE_BODY_BYTES` of the body and `MAX_RESPONSE_HEADERS`
   headers are read, the rest is dropped with the connection.

Refusals raise `BlockedUrl` with GitLab's messages ("Requests to localhost are not allowed"...);
transport failures raise `DeliveryError`.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import ipaddress
import itertools
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2048
# GitLab keeps 8 KB of a receiver's answer (the rest is of no use to anyone).
MAX_RESPONSE_BODY_BYTES = 8 * 1024
MAX_RESPONSE_HEADERS = 50
MAX_RESPONSE_HEADER_BYTES = 1024


class BlockedUrl(Exception):
    """The URL may not be requested; `str()` is GitLab's message."""


class DeliveryError(Exception):
    """The request did not get an answer: refused, reset, timed out, TLS failure..."""


@dataclass(frozen=True)
class Timeouts:
    """GitLab's webhook timeout is 10 s per operation; `total` bounds a slow trickle."""

    connect: float = 10.0
    read: float = 10.0
    total: float = 30.0


DEFAULT_TIMEOUTS = Timeouts()


def set_default_timeouts(timeouts: Timeouts) -> Timeouts:
    """Replace the timeouts of every delivery (tests shrink them); returns the previous."""
    global DEFAULT_TIMEOUTS
    previous, DEFAULT_TIMEOUTS = DEFAULT_TIMEOUTS, timeouts
    return previous


# -- resolving (the seam) ------------------------------------------------------------------

Resolver = Callable[[str, int], Sequence[str]]


RESOLVE_TIMEOUT = 15.0


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses getaddrinfo gives for `host` (TCP), in its order, without duplicates.

    getaddrinfo has no timeout of its own; a lookup that hangs is abandoned after
    `RESOLVE_TIMEOUT` seconds (its daemon thread finishes on its own), as GitLab's 15 s.
    """
    outcome: dict[str, object] = {}

    def lookup() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            outcome["error"] = error

    worker = threading.Thread(target=lookup, name="webhook-dns", daemon=True)
    worker.start()
    worker.join(RESOLVE_TIMEOUT)
    infos = outcome.get("infos")
    if not isinstance(infos, list):
        raise OSError(f"cannot resolve {host}")
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    return addresses


_resolver: Resolver = system_resolver


def use_resolver(resolver: Resolver | None) -> Resolver:
    """Resolve names with `resolver` from now on (None: the system's); returns the previous."""
    global _resolver
    previous = _resolver
    _resolver = resolver or system_resolver
    return previous


@contextlib.contextmanager
def resolving_with(resolver: Resolver) -> Iterator[None]:
    previous = use_resolver(resolver)
    try:
        yield
    finally:
        use_resolver(previous)


# -- parsing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedUrl:
    scheme: str
    # The host as sent in `Host` and SNI: an ASCII (IDNA) name, or an IP address without
    # brackets.
    host: str
    port: int
    # Path and query, as sent on the request line.
    target: str
    username: str | None
    password: str | None
    # Set when the host is an address literal (in any spelling).
    literal: IPAddress | None

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_NUMERIC_PART = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_HOST_NAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$")


def _inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """The address the C library's inet_aton makes of `host`, if it is numeric at all.

    Returns None for a host that is a name; raises BlockedUrl for a numeric host out of range
    (which no resolver should be asked about).
    """
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_PART.match(p) for p in parts):
        return None
    values = []
    for part in parts:
        if part.startswith("0x"):
            if len(part) == 2:
                raise BlockedUrl("Hostname or IP address invalid")
            values.append(int(part[2:], 16))
        elif len(part) > 1 and part.startswith("0"):
            if not all(c in "01234567" for c in part):
                raise BlockedUrl("Hostname or IP address invalid")
            values.append(int(part, 8))
        else:
            values.append(int(part, 10))
    # a, a.b (8.24), a.b.c (8.8.16), a.b.c.d (8.8.8.8)
    last_bits = 32 - 8 * (len(values) - 1)
    if any(v > 0xFF for v in values[:-1]) or values[-1] >= 1 << last_bits:
        raise BlockedUrl("Hostname or IP address invalid")
    number = 0
    for value in values[:-1]:
        number = (number << 8) | value
    number = (number << last_bits) | values[-1]
    return ipaddress.IPv4Address(number)


def _normalize_host(raw: str, bracketed: bool) -> tuple[str, IPAddress | None]:
    if bracketed:
        if "%" in raw:  # a zone id: only meaningful for link-local addresses
            raise BlockedUrl("Requests to the link local network are not allowed")
        try:
            return str(ipaddress.IPv6Address(raw)), ipaddress.IPv6Address(raw)
        except ValueError:
            raise BlockedUrl("Hostname or IP address invalid") from None
    host = raw.lower()
    if host.endswith("."):
        host = host[:-1]  # the root label: "localhost." is localhost
    if not host or "%" in host:
        raise BlockedUrl("Hostname or IP address invalid")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise BlockedUrl("Hostname or IP address invalid") from None
    literal = _inet_aton(host)
    if literal is not None:
        return str(literal), literal
    if not _HOST_NAME.match(host) or len(host) > 253:
        raise BlockedUrl("Hostname or IP address invalid")
    return host, None


def parse_url(url: str) -> ParsedUrl:
    """Check the shape of a hook URL; raises BlockedUrl with GitLab's message."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise BlockedUrl("URI is invalid")
    if _UNSAFE_CHARS.search(url) or not url.isprintable():
        raise BlockedUrl("URI is invalid")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BlockedUrl("URI is invalid") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedUrl("Only allowed schemes are http, https")
    netloc = parts.netloc.rpartition("@")[2]
    bracketed = netloc.startswith("[")
    raw_host = parts.hostname or ""
    if not raw_host:
        raise BlockedUrl("Host cannot be resolved or invalid")
    if bracketed:
        # urlsplit lowercases and strips the brackets; keep a zone id visible to refuse it.
        raw_host = netloc[1 : netloc.index("]")]
    host, literal = _normalize_host(raw_host, bracketed)
    if port == 0:
        raise BlockedUrl("URI is invalid")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    # The request line is ASCII: percent-encode what is not (and nothing else).
    target = _NON_ASCII.sub(lambda m: quote(m.group(), safe=""), target)
    return ParsedUrl(
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        target=target,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        literal=literal,
    )


# -- which addresses may be reached ---------------------------------------------------------

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_LINK_LOCAL_V4 = ipaddress.IPv4Network("169.254.0.0/16")
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


@functools.lru_cache(maxsize=1)
def _interface_addresses(_epoch: int) -> frozenset[IPAddress]:
    """The machine's own addresses (Linux /proc), refused like localhost: a service listening
    on all interfaces is as reachable through them as through 127.0.0.1."""
    found: set[IPAddress] = set()
    lines = _read_text("/proc/net/fib_trie").splitlines()
    for previous, line in itertools.pairwise(lines):
        if "/32 host LOCAL" in line:
            with contextlib.suppress(ValueError, IndexError):
                found.add(ipaddress.IPv4Address(previous.split()[-1]))
    for line in _read_text("/proc/net/if_inet6").splitlines():
        with contextlib.suppress(ValueError, IndexError):
            hexa = line.split()[0]
            found.add(ipaddress.IPv6Address(":".join(re.findall("....", hexa))))
    return frozenset(found)


def interface_addresses() -> frozenset[IPAddress]:
    return _interface_addresses(int(time.monotonic() // 60))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def check_address(address: IPAddress, *, allow_local: bool) -> None:
    """Raise BlockedUrl unless a request may go to `address`."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            check_address(embedded, allow_local=allow_local)
            if address.sixtofour is None:
                return
    if address.is_multicast:
        raise BlockedUrl("Requests to multicast addresses are not allowed")
    if address == _BROADCAST:
        raise BlockedUrl("Requests to the limited broadcast address are not allowed")
    if isinstance(address, ipaddress.IPv4Address) and address.is_reserved:
        raise BlockedUrl("Requests to reserved addresses are not allowed")
    if allow_local:
        return
    if address.is_unspecified or (
        isinstance(address, ipaddress.IPv4Address) and address in _THIS_NETWORK
    ):
        raise BlockedUrl("Requests to localhost are not allowed")
    if str(address) in ("127.0.0.1", "::1") or address in interface_addresses():
        raise BlockedUrl("Requests to localhost are not allowed")
    if address.is_loopback:
        raise BlockedUrl("Requests to loopback addresses are not allowed")
    if isinstance(address, ipaddress.IPv4Address):
        if any(address in network for network in _PRIVATE_V4):
            raise BlockedUrl("Requests to the local network are not allowed")
        if address in _LINK_LOCAL_V4:
            raise BlockedUrl("Requests to the link local network are not allowed")
        if address in _SHARED:
            raise BlockedUrl("Requests to the shared address space are not allowed")
    else:
        if address in _UNIQUE_LOCAL or address in _SITE_LOCAL:
            raise BlockedUrl("Requests to the local network are not allowed")
        if address.is_link_local:
            raise BlockedUrl("Requests to the link local network are not allowed")
    if not address.is_global:
        # Documentation, benchmarking and protocol ranges: nothing a webhook should reach.
        raise BlockedUrl("Requests to the local network are not allowed")


def _addresses_for(parsed: ParsedUrl, *, required: bool) -> list[IPAddress]:
    if parsed.literal is not None:
        return [parsed.literal]
    if parsed.host in _LOCAL_NAMES or parsed.host.endswith(".localhost"):
        # RFC 6761: these names are the loopback, whatever a resolver says.
        return [ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")]
    try:
        answers = list(_resolver(parsed.host, parsed.port))
    except (OSError, UnicodeError):
        answers = []
    addresses: list[IPAddress] = []
    for answer in answers:
        try:
            addresses.append(ipaddress.ip_address(str(answer).split("%", 1)[0]))
        except ValueError:
            continue
    if not addresses and required:
        raise BlockedUrl("Host cannot be resolved or invalid")
    return addresses


def validate_url(url: str, *, allow_local: bool) -> ParsedUrl:
    """Creation-time check: the shape, and every address the host resolves to now.

    A name that does not resolve (yet) is accepted, as GitLab accepts it; delivery resolves
    again and refuses what it finds then.
    """
    parsed = parse_url(url)
    for address in _addresses_for(parsed, required=False):
        check_address(address, allow_local=allow_local)
    return parsed


@dataclass(frozen=True)
class Target:
    """A URL with the addresses it may be reached at, all checked."""

    url: ParsedUrl
    addresses: tuple[IPAddress, ...]


def resolve_target(url: str, *, allow_local: bool) -> Target:
    """Delivery-time check: resolve once, check every address, keep them for connecting."""
    parsed = parse_url(url)
    addresses = _addresses_for(parsed, required=True)
    for address in addresses:
        check_address(address, allow_local=allow_local)
    return Target(url=parsed, addresses=tuple(addresses))


# -- the request ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    truncated: bool = False


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to `host` (for Host) made to one checked address."""

    def __init__(self, target: Target, timeouts: Timeouts) -> None:
        super().__init__(target.url.host, target.url.port, timeout=timeouts.connect)
        self._target = target
        self._timeouts = timeouts

    def _open_socket(self) -> socket.socket:
        last: OSError | None = None
        for address in self._target.addresses:
            try:
                sock = socket.create_connection(
                    (str(address), self._target.url.port), timeout=self._timeouts.connect
                )
            except OSError as error:
                last = error
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self._timeouts.read)
            return sock
        raise last or OSError("no address to connect to")

    def connect(self) -> None:
        self.sock = self._open_socket()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    def __init__(self, target: Target, timeouts: Timeouts, context: ssl.SSLContext) -> None:
        super().__init__(target, timeouts)
        self._context = context

    def connect(self) -> None:
        sock = self._open_socket()
        # SNI and the certificate check use the name from the URL, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self._target.url.host)


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _cap_header(value: str) -> str:
    encoded = value.encode("utf-8", "replace")
    if len(encoded) <= MAX_RESPONSE_HEADER_BYTES:
        return value
    return encoded[:MAX_RESPONSE_HEADER_BYTES].decode("utf-8", "ignore")


def post(
    target: Target,
    *,
    body: bytes,
    headers: Mapping[str, str],
    verify_tls: bool = True,
    timeouts: Timeouts | None = None,
    max_body: int = MAX_RESPONSE_BODY_BYTES,
) -> Response:
    """POST `body` to a checked target; never follows a redirect. Raises DeliveryError."""
    timeouts = timeouts or DEFAULT_TIMEOUTS
    conn: _PinnedHTTPConnection
    if target.url.scheme == "https":
        conn = _PinnedHTTPSConnection(target, timeouts, _tls_context(verify_tls))
    else:
        conn = _PinnedHTTPConnection(target, timeouts)
    expired = threading.Event()

    def _abort() -> None:
        # Past the total time: shut the socket so a blocked read returns at once.
        expired.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeouts.total, _abort)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.putrequest("POST", target.url.target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", target.url.host_header)
        for name, value in headers.items():
            # UTF-8 bytes: http.client refuses CR/LF in them, and latin-1 cannot hold all.
            conn.putheader(name, value.encode("utf-8"))
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        kept = [
            (name, _cap_header(value))
            for name, value in response.getheaders()[:MAX_RESPONSE_HEADERS]
        ]
        data = response.read(max_body + 1)
        return Response(
            status=response.status,
            reason=response.reason,
            headers=kept,
            body=data[:max_body],
            truncated=len(data) > max_body,
        )
    except (OSError, http.client.HTTPException, ValueError) as error:
        if expired.is_set():
            raise DeliveryError(f"execution expired after {timeouts.total:g} seconds") from None
        if isinstance(error, TimeoutError):
            raise DeliveryError("execution expired") from None
        raise DeliveryError(_describe(error)) from None
    finally:
        watchdog.cancel()
        conn.close()


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError):
        return f"SSL error: {error.reason or error}"
    if isinstance(error, ConnectionRefusedError):
        return "Connection refused"
    if isinstance(error, ConnectionResetError):
        return "Connection reset by peer"
    if isinstance(error, http.client.HTTPException):
        return f"Invalid HTTP response: {type(error).__name__}"
    return str(error) or type(error).__name__
