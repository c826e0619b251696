"""Signing in through the form in a real browser (Playwright driving Debian's Chromium) against a real serve: a
wrong token is refused, the right one sets a cookie scripts cannot read (HttpOnly, SameSite=Strict) that the
page's fetches of the read API carry; an org's session sees its org only, an admin's any, a member's only its
member; sign-out ends the session; no request leaves 127.0.0.1 and no token is in a URL."""

from __future__ import annotations

import json

import pytest

from plumbing.sessions import SESSION_COOKIE
from tests.support.member_stores import ALICE, BOB, MEMBERS, TOKENS, member_serve
from tests.support.claude_records import DAY

pytestmark = pytest.mark.slow

USERS = f"/api/v1/users?month={DAY:%Y-%m}"


def fetch_json(page, path: str) -> tuple[int, dict]:
    """What the page's own script gets from fetch(path), with the browser's cookies."""
    answer = page.evaluate("""async path => {
        const reply = await fetch(path);
        return [reply.status, await reply.text()];
    }""", path)
    return answer[0], json.loads(answer[1])


def signed_in(browser, base: str, token: str, requests: list[str]):
    context = browser.new_context()
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{base}/signin")
    page.fill("#token", token)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return context, page


def test_sign_in_in_a_browser_wrong_token_org_admin_member_and_sign_out(browser, serve_factory, tmp_path):
    serve = member_serve(serve_factory, tmp_path, "everyone", list(MEMBERS), hashed=False)
    base = f"http://{serve.host}:{serve.api_port}"
    requests: list[str] = []

    # a wrong token: the form again, 401, the reason, no cookie
    context = browser.new_context()
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{base}/signin")
    page.fill("#token", TOKENS["org"][:-1] + "x")
    with page.expect_navigation() as refused:
        page.click("button[type=submit]")
    assert refused.value.status == 401
    assert "That token is not valid" in page.text_content("[role=alert]")
    assert context.cookies() == []
    context.close()

    # an org token: a cookie the page's script cannot read, which its fetches carry
    context, page = signed_in(browser, base, TOKENS["org"], requests)
    assert page.url == f"{base}/"
    [cookie] = context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
        SESSION_COOKIE, True, "Strict", "/")
    assert all(token not in cookie["value"] for token in TOKENS.values())
    assert page.evaluate("document.cookie") == ""
    status, users = fetch_json(page, USERS)
    assert status == 200 and sorted(row["user_key"] for row in users["data"]) == [ALICE, BOB]
    assert fetch_json(page, f"{USERS}&org=org-b")[0] == 403
    assert fetch_json(page, "/api/v1/whoami") == (200, {"kind": "org", "org": "org-a", "member": None,
                                                        "orgs": None})

    # sign-out from the sign-in page: the session ends, the cookie goes
    page.goto(f"{base}/signin")
    assert "Signed in with the token of org org-a" in page.text_content("main")
    with page.expect_navigation():
        page.click("text=Sign out")
    assert page.url == f"{base}/signin" and context.cookies() == []
    assert fetch_json(page, USERS)[0] == 401
    context.close()

    # an admin picks any org
    context, page = signed_in(browser, base, TOKENS["admin"], requests)
    status, users = fetch_json(page, f"{USERS}&org=org-b")
    assert status == 200 and {row["org_id"] for row in users["data"]} == {"org-b"}
    context.close()

    # a member sees its own row only, and nothing org-wide
    context, page = signed_in(browser, base, TOKENS["alice"], requests)
    status, users = fetch_json(page, USERS)
    assert status == 200 and [row["user_key"] for row in users["data"]] == [ALICE]
    assert fetch_json(page, "/api/v1/whoami")[1]["kind"] == "member"
    assert fetch_json(page, f"/v1/organizations/usage_report/claude_code?starting_at={DAY}")[0] == 403
    context.close()

    assert requests and all(url.startswith(f"{base}/") for url in requests), requests
    assert not any(token in url for url in requests for token in TOKENS.values())
    log = serve.log_text()
    assert not any(token in log for token in TOKENS.values())
