"""Without tokens, the API answers only requests addressed to it by an IP address or by a name it was given.

DNS rebinding: a web page on evil.example can point its own name at 127.0.0.1 once loaded. The visitor's browser
then sends that page's requests to serve as same-origin (Origin and Host both say evil.example), reads the answers
and can POST, so the cross-origin rule alone does not stop it. A token would (a page cannot know it), but without
--auth-tokens the API is open: there it refuses any Host that is not an IP literal, `localhost`, or a name listed
in --allowed-hosts. A rebinding attack needs a name of the attacker's, so it never matches. Signature-checked
routes (GitHub's webhook) answer any name: GitHub addresses serve by its public name, and a page cannot sign.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from plumbing.json_answer import json_response
from plumbing.routes import Access, route_access

LOOPBACK_NAMES = frozenset({"localhost"})


def host_name(host_header: str) -> str:
    """The name or address of a Host header, without its port and brackets, lower-cased."""
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:9464
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def refuse_unknown_hosts(allowed_names: frozenset[str]):
    names = LOOPBACK_NAMES | {name.lower() for name in allowed_names}

    @web.middleware
    async def check_host(request: web.Request, handler):
        name = host_name(request.headers.get("Host", ""))
        if is_address(name) or name in names or route_access(request) is Access.SIGNED:
            return await handler(request)
        return json_response({"error": f"this API answers requests to an IP address or to {', '.join(sorted(names))}"
                                       f", not to {name!r} (a web page could have pointed that name here); "
                                       "add the name with --allowed-hosts, or use --auth-tokens"}, status=403)

    return check_host
