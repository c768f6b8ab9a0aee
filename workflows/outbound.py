"""Outbound HTTP of nodes: never to the server's own networks unless a deployment allows it.

Every connection, the first and each redirect's, resolves the host once, checks every
address it resolved to, and connects to those checked addresses (so a name cannot resolve
to a public address for the check and a private one for the connection). Refused by default:
cloud metadata, loopback, link-local, private, and other non-global addresses.
WORKFLOW_HTTP_ALLOWED_NETWORKS (CIDRs) and WORKFLOW_HTTP_ALLOWED_HOSTS (names, or name:port)
let a deployment reach internal services. No proxy is used.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request

from django.conf import settings

# Instance metadata services: AWS, GCP and Azure (IPv4, and AWS's IPv6), Alibaba.
METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(OSError):
    """A connection the outbound rules refuse; the message says which rule."""


def refusal(address: Address) -> str | None:
    """The rule that refuses `address` ("a loopback address"), or None when it is allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in ipaddress.ip_network(net, strict=False) for net in settings.WORKFLOW_HTTP_ALLOWED_NETWORKS):
        return None
    if address in METADATA:
        return "a cloud metadata address"
    for rule, hit in (
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("an unspecified address", address.is_unspecified),
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved or not address.is_global),
    ):
        if hit:
            return rule
    return None


def _host_allowed(host: str, port: int) -> bool:
    allowed = {h.lower() for h in settings.WORKFLOW_HTTP_ALLOWED_HOSTS}
    host = host.lower().strip("[]")
    return host in allowed or f"{host}:{port}" in allowed


def checked_addresses(host: str, port: int) -> list[tuple]:
    """getaddrinfo's answers for (host, port), every one allowed, else Refused naming the rule."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror}") from exc
    if _host_allowed(host, port):
        return infos
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if rule := refusal(address):
            shown = host.strip("[]")
            via = "" if shown == str(address) else f" ({shown} resolves to it)"
            raise Refused(
                f"refused to connect to {address}{via}: it is {rule}; outbound HTTP does not reach the "
                "server's own networks unless WORKFLOW_HTTP_ALLOWED_NETWORKS or WORKFLOW_HTTP_ALLOWED_HOSTS allows it"
            )
    return infos


_DEFAULT_TIMEOUT = getattr(socket, "_GLOBAL_DEFAULT_TIMEOUT")  # noqa: B009 (private; http.client passes it)


def connect(address: tuple[str, int], timeout=_DEFAULT_TIMEOUT, source_address=None) -> socket.socket:
    """socket.create_connection, to the checked addresses only."""
    host, port = address
    error: OSError | None = None
    for family, socktype, proto, _, sockaddr in checked_addresses(host, port):
        sock = socket.socket(family, socktype, proto)
        try:
            if timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"cannot connect to {host}")


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = connect


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = connect


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=self._context)


def _opener() -> urllib.request.OpenerDirector:
    # Built by hand: no proxy, file, ftp or data handler, so a redirect can only lead to
    # another checked http(s) connection.
    opener = urllib.request.OpenerDirector()
    for handler in (
        _HTTPHandler(),
        _HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    return opener


def urlopen(request: urllib.request.Request, *, timeout: float):
    """urllib.request.urlopen under the outbound rules; a refusal is a URLError whose reason
    is a Refused."""
    return _opener().open(request, timeout=timeout)
