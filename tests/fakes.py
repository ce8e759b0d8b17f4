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
