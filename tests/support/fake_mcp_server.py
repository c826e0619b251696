"""A tiny MCP server over stdio (JSON-RPC 2.0, one message a line) for the real Claude Code CLI to connect to:
`lookup` answers, `explode` answers with isError, so a session's MCP tool calls succeed and fail on purpose.
Standard library only: the CLI starts it with whatever interpreter its config names.
Usage: fake_mcp_server.py [CALL_LOG]   (CALL_LOG: a file that gets one JSON line per tools/call)"""

from __future__ import annotations

import json
import sys

SERVER_NAME = "probe"  # the name a scenario's MCP config gives this server; its tools are mcp__probe__TOOL
TOOLS = {
    "lookup": ("Looks a word up in the probe's dictionary.", False),
    "explode": ("Always fails (to see what a failing MCP tool sends).", True),
}
METHOD_NOT_FOUND = -32601


def tool_list() -> list[dict]:
    return [{"name": name, "description": description,
             "inputSchema": {"type": "object", "properties": {"word": {"type": "string"}}}}
            for name, (description, _) in TOOLS.items()]


def answer(message: dict) -> dict | None:
    """The reply to one request (None for a notification, which gets none)."""
    method, params = message.get("method"), message.get("params") or {}
    if "id" not in message:
        return None
    if method == "initialize":
        result = {"protocolVersion": params.get("protocolVersion", "2025-06-18"), "capabilities": {"tools": {}},
                  "serverInfo": {"name": SERVER_NAME, "version": "1.0.0"}}
    elif method == "tools/list":
        result = {"tools": tool_list()}
    elif method == "tools/call" and params.get("name") in TOOLS:
        word = (params.get("arguments") or {}).get("word", "")
        fails = TOOLS[params["name"]][1]
        text = f"{params['name']} failed on {word!r}" if fails else f"{word}: a word the probe knows"
        result = {"content": [{"type": "text", "text": text}], "isError": fails}
    elif method == "ping":
        result = {}
    else:
        return {"jsonrpc": "2.0", "id": message["id"],
                "error": {"code": METHOD_NOT_FOUND, "message": f"no method {method}"}}
    return {"jsonrpc": "2.0", "id": message["id"], "result": result}


def main() -> None:
    call_log = sys.argv[1] if len(sys.argv) > 1 else None
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        if call_log and message.get("method") == "tools/call":
            with open(call_log, "a") as log:
                log.write(json.dumps(message.get("params")) + "\n")
        reply = answer(message)
        if reply is not None:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
