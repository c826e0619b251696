"""Calling a running serve's read API: any status, or only a successful one."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request


def post_otlp(serve, request, path: str, token: str | None = None) -> None:
    headers = {"Content-Type": "application/x-protobuf", **({"Authorization": f"Bearer {token}"} if token else {})}
    http = urllib.request.Request(f"{serve.http_url}{path}", data=request.SerializeToString(), headers=headers)
    with urllib.request.urlopen(http, timeout=30) as reply:
        assert reply.status == 200


def api(serve, path: str, method: str = "GET", **parameters) -> tuple[int, dict | bytes, dict]:
    url = f"http://{serve.host}:{serve.api_port}{path}?{urllib.parse.urlencode(parameters)}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, data=b"" if method == "POST"
                                                           else None), timeout=60) as reply:
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
