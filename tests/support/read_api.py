"""Calling a running serve's read API: any status, or only a successful one."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request


def api(serve, path: str, method: str = "GET", **parameters) -> tuple[int, dict | bytes, dict]:
    url = f"http://{serve.host}:{serve.api_port}{path}?{urllib.parse.urlencode(parameters)}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=60) as reply:
            body, status, headers = reply.read(), reply.status, dict(reply.headers)
    except urllib.error.HTTPError as error:
        body, status, headers = error.read(), error.code, dict(error.headers)
    if headers.get("Content-Type", "").startswith("application/json"):
        return status, json.loads(body), headers
    return status, body, headers


def ok(serve, path: str, method: str = "GET", **parameters):
    status, body, _ = api(serve, path, method, **parameters)
    assert status == 200, body
    return body


def send(serve, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
         **parameters) -> tuple[int, bytes]:
    """Any request to the read API as a browser or another client would make it: its status and body. A body the
    server cut off (a result stopped past a bound) comes back as status 0 with what arrived."""
    url = f"http://{serve.host}:{serve.api_port}{path}?{urllib.parse.urlencode(parameters)}"
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            try:
                return reply.status, reply.read()
            except http.client.IncompleteRead as cut:
                return 0, cut.partial
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def call_with_token(serve, token: str, path: str, **parameters) -> tuple[int, bytes]:
    """GET path with a bearer token: the status and the body."""
    return send(serve, "GET", path, headers={"Authorization": f"Bearer {token}"}, **parameters)


def json_with_token(serve, token: str, path: str, **parameters) -> dict:
    """GET path with a bearer token, which must answer 200: its JSON."""
    status, body = call_with_token(serve, token, path, **parameters)
    assert status == 200, body
    return json.loads(body)
