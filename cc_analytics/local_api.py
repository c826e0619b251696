"""Talking to the read API of a serve on this machine: the owner of an embedded store is reached through it."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request

from cc_analytics import claude_env
from cc_analytics.config import Settings


class NoServeRunning(ConnectionError):
    """Nothing answers on the API port."""


class ApiError(RuntimeError):
    """The API answered with an error; the message is its explanation."""


def call(settings: Settings, method: str, path: str, parameters: dict, body: bytes | None = None,
         timeout: float = 600, content_type: str | None = None) -> bytes:
    """The answer's body; a body is sent as content_type (the API refuses the form types a browser sends)."""
    host = claude_env.reachable_host(settings.host, local=True)
    query = urllib.parse.urlencode({k: v for k, v in parameters.items() if v is not None}, doseq=True)
    headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token else {}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(f"http://{host}:{settings.api_port}{path}?{query}", data=body, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.read()
    except http.client.IncompleteRead as error:
        # a result stopped past a bound: serve ends the body with the reason and cuts the connection
        lines = error.partial.decode(errors="replace").rstrip().splitlines()
        raise ApiError(f"the result was cut off: {lines[-1] if lines else 'the connection closed'}") from None
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        try:
            text = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            pass
        raise ApiError(text) from None
    except (urllib.error.URLError, ConnectionError) as error:
        raise NoServeRunning(str(error)) from None


def serve_answers(settings: Settings) -> bool:
    """Whether a serve answers on the API port (/healthz needs no token)."""
    try:
        call(settings, "GET", "/healthz", {}, timeout=30)
    except NoServeRunning:
        return False
    except ApiError:
        pass  # something answers there, with an error: it is a serve, and its answer is what the command reports
    return True
