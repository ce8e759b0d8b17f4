"""Test doubles plugged in through the real seams (never in place of Qdrant or Kiwi)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from retrieval.embeddings import Kind


class CountingEmbedder:
    """A deterministic `Embedder` that records what it was asked to embed."""

    def __init__(self, name: str = "fake-8", dim: int = 8) -> None:
        self.name, self.dim = name, dim
        self.calls: list[tuple[list[str], Kind]] = []

    @property
    def embedded(self) -> list[str]:
        return [t for texts, _ in self.calls for t in texts]

    def embed(self, texts: Sequence[str], *, kind: Kind) -> np.ndarray:
        self.calls.append((list(texts), kind))
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(f"{kind}:{text}".encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(self.dim)
            rows.append(row / np.linalg.norm(row))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)


def reply_json(handler: Any, payload: object) -> None:
    """Answer an http.server request with 200 and a JSON body."""
    data = json.dumps(payload).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class FakeOpenAI:
    """An OpenAI-compatible chat server on loopback that returns scripted answers.

    Speaks POST /v1/chat/completions, plain and streamed (server-sent events ending in
    `data: [DONE]`), and records every request body so tests can read what the model was sent.
    A streamed reply containing `BREAK` stops there with a malformed chunk, as a server that
    crashes mid-answer does.
    """

    BREAK = "<<break>>"

    def __init__(self) -> None:
        import http.server
        import threading

        self.replies: list[str | Callable[[dict[str, Any]], str]] = []
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                scripted = fake.replies.pop(0) if fake.replies else "근거를 찾지 못했습니다"
                reply = scripted(body) if callable(scripted) else scripted
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    reply, broken, _ = reply.partition(FakeOpenAI.BREAK)
                    for n in range(0, len(reply), 7):
                        chunk = {
                            "id": "c1",
                            "object": "chat.completion.chunk",
                            "created": 0,
                            "model": body["model"],
                            "choices": [
                                {"index": 0, "delta": {"content": reply[n : n + 7]}, "finish_reason": None}
                            ],
                        }
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    if broken:
                        self.wfile.write(b'data: {"id": "c1", "choices": [{"delta": \n\n')
                        self.close_connection = True
                        return
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                payload = {
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                reply_json(self, payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeQdrantSnapshots:
    """The part of a Qdrant server's REST API that collection snapshots use, on loopback.

    No Qdrant server can run on these machines (only Edge and qdrant-client's local mode, neither
    of which has snapshots), so this speaks the documented protocol (api.qdrant.tech, v1.17):
    `GET /collections/{c}/cluster`, `POST /collections/{c}/points/count`,
    `POST /collections/{c}/snapshots` (`{"result": {"name", "size", "checksum"}}`), the download
    and delete of `/collections/{c}/snapshots/{name}`, and the multipart
    `POST /collections/{c}/snapshots/upload?priority=&checksum=`, which replaces the collection.
    A collection is a byte string (its "data") and a point count; `requests` records every call.
    """

    def __init__(self, api_key: str | None = None) -> None:
        import email.parser
        import email.policy
        import http.server
        import threading
        from urllib.parse import parse_qs, urlsplit

        self.api_key = api_key
        self.collections: dict[str, tuple[bytes, int]] = {}
        self.snapshots: dict[str, bytes] = {}
        self.remote_shards: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _route(self, method: str) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                fake.requests.append((method, url.path, query))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if fake.api_key and self.headers.get("api-key") != fake.api_key:
                    return self._error(401, "Must provide an API key or an Authorization bearer token")
                parts = url.path.strip("/").split("/")
                if len(parts) < 2 or parts[0] != "collections" or parts[1] not in fake.collections:
                    return self._error(
                        404, f"Collection `{parts[1] if len(parts) > 1 else ''}` doesn't exist!"
                    )
                name = parts[1]
                data, count = fake.collections[name]
                rest = parts[2:]
                if method == "GET" and rest == ["cluster"]:
                    local = [{"shard_id": 0, "points_count": count, "state": "Active"}]
                    return self._ok(
                        {
                            "peer_id": 1,
                            "shard_count": 1,
                            "local_shards": local,
                            "remote_shards": fake.remote_shards,
                            "shard_transfers": [],
                        }
                    )
                if method == "POST" and rest == ["points", "count"]:
                    return self._ok({"count": count})
                if method == "POST" and rest == ["snapshots"]:
                    snap = f"{name}-{len(fake.snapshots)}.snapshot"
                    fake.snapshots[snap] = data + count.to_bytes(8, "little")
                    digest = hashlib.sha256(fake.snapshots[snap]).hexdigest()
                    return self._ok(
                        {
                            "name": snap,
                            "creation_time": "2026-12-02T00:00:00",
                            "size": len(fake.snapshots[snap]),
                            "checksum": digest,
                        }
                    )
                if rest[:1] == ["snapshots"] and len(rest) == 2 and rest[1] != "upload":
                    if rest[1] not in fake.snapshots:
                        return self._error(404, f"Snapshot {rest[1]} not found")
                    if method == "DELETE":
                        del fake.snapshots[rest[1]]
                        return self._ok(True)
                    raw = fake.snapshots[rest[1]]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                    return None
                if method == "POST" and rest == ["snapshots", "upload"]:
                    head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + body)
                    files = [
                        p
                        for p in message.iter_parts()
                        if p.get_param("name", header="content-disposition") == "snapshot"
                    ]
                    if not files:
                        return self._error(400, "no snapshot file in the form")
                    raw = files[0].get_content()
                    if not isinstance(raw, bytes):
                        return self._error(400, "the snapshot part is not binary")
                    if query.get("checksum") and hashlib.sha256(raw).hexdigest() != query["checksum"][0]:
                        return self._error(400, "Snapshot checksum mismatch")
                    fake.collections[name] = (raw[:-8], int.from_bytes(raw[-8:], "little"))
                    return self._ok(True)
                return self._error(404, f"no route {method} {url.path}")

            def _ok(self, result: object) -> None:
                reply_json(self, {"result": result, "status": "ok", "time": 0.001})

            def _error(self, code: int, message: str) -> None:
                data = json.dumps({"status": {"error": message}, "time": 0.0}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_DELETE(self) -> None:
                self._route("DELETE")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
