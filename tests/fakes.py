"""Test doubles plugged in through the real seams (never in place of Qdrant or Kiwi)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

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
