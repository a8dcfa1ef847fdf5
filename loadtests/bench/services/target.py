"""Load goes to loopback only, unless the user opts in to a remote target explicitly."""

import ipaddress
from urllib.parse import urlsplit

from bench.common.errors import BenchError

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_target(url: str, allow_remote: bool) -> str:
    """Returns the URL without a trailing slash; refuses non-loopback hosts without the opt-in."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BenchError(f"target {url!r} is not an http(s) URL with a host")
    if not is_loopback(parts.hostname) and not allow_remote:
        raise BenchError(
            f"refusing to send load to {parts.hostname}: only loopback targets are allowed "
            "without --allow-remote (load only machines you own)"
        )
    return url.rstrip("/")
