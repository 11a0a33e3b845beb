"""Raw HTTP to the desktop double for its tests: one request per connection, read to the close."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

from syncd.sandbox.desktop import DesktopDouble


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


def request(
    app: DesktopDouble,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    json_body: Any = None,
    sid: str | None = None,
    key: str | None = None,
    host: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    raw: bool = False,
) -> Answer | Any:
    """Send one request as a program on this machine would; the answer (or its bytes)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{app.port}", "User-Agent: syncd-test"]
    if json_body is not None:
        body = json.dumps(json_body).encode()
        lines.append("Content-Type: application/json")
    if sid is not None:
        lines.append(f"Zotero-Server-ID: {sid}")
    if key is not None:
        lines.append(f"Zotero-API-Key: {key}")
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks)
    if raw:
        return reply
    head, _, rest = reply.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), parsed, rest.decode())


def authorize(app: DesktopDouble) -> Answer:
    """POST /api/local/authorize as syncd would (the dialog answered by the double's switch)."""
    answer = request(
        app, "POST", "/api/local/authorize", json_body={"appName": "syncd"},
        sid=app.state.db.server_id,
    )  # fmt: skip
    assert isinstance(answer, Answer)
    return answer
