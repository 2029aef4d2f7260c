"""Which ``instanceUrl`` an integration may have (docs/admin-api.md).

The service sends credentials to this URL, so anything else is SSRF and a credential leak:
``https://`` only, no user info, no query or fragment, and for NinjaOne one of its regional hosts.
A host written as an IP address, in any of its forms (``[::ffff:127.0.0.1]``, ``2130706433``,
``0x7f.1``), must be a public one; ``localhost`` and ``*.localhost`` are refused. A DNS name that
resolves to a private address is not caught here (that would need the check at connect time).
``ALLOW_LOOPBACK_PROVIDERS=true`` additionally allows ``http://127.0.0.1:<port>`` and
``http://localhost:<port>`` (tests, the local simulator).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

NINJAONE_HOSTS = frozenset(f"{region}.ninjarmm.com" for region in ("app", "us2", "eu", "ca", "oc"))
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def loopback_allowed(env: dict[str, str] | None = None) -> bool:
    value = (env if env is not None else os.environ).get("ALLOW_LOOPBACK_PROVIDERS", "")
    return value.strip().lower() == "true"


def validate_instance_url(provider: str, url: str, *, allow_loopback: bool | None = None) -> str:
    """The normalized URL (no trailing slash), or ValueError saying what is wrong."""
    allow = loopback_allowed() if allow_loopback is None else allow_loopback
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise ValueError("must be a valid URL") from None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("must not contain user info")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    if not host:
        raise ValueError("must have a host")
    if host.endswith("."):
        # "localhost." and "127.0.0.1." name the same hosts as without the dot.
        raise ValueError("must not end the host with a dot")
    if parts.scheme == "http" and allow and host in LOOPBACK_HOSTS:
        if port is None:
            raise ValueError("a loopback URL needs an explicit port")
        return url.strip().rstrip("/")
    if parts.scheme != "https":
        raise ValueError("must be an https:// URL")
    if provider == "ninjaone" and host not in NINJAONE_HOSTS:
        allowed = ", ".join(sorted(NINJAONE_HOSTS))
        raise ValueError(f"must be a NinjaOne regional host ({allowed})")
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        raise ValueError("must not be a loopback or link-local address")
    address = _ip_literal(host)
    if address is not None and not address.is_global:
        raise ValueError("must not be a private, loopback or link-local address")
    return f"https://{parts.netloc}{parts.path}".rstrip("/")


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, if it is one: IPv6 (an IPv4-mapped one as its IPv4 address),
    dotted IPv4, or the legacy IPv4 forms that resolvers still accept (``2130706433``, ``127.1``,
    ``0x7f.0.0.1``)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one reaches that IPv4 host: mapped (::ffff:a.b.c.d),
        # the old compatible form (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:a.b.c.d::).
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _COMPATIBLE or address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address
