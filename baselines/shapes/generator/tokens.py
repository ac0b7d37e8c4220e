"""Word-level tokenizer for prompts and edit instructions over the shapes world's vocabulary."""

from __future__ import annotations

import torch

from hbench.worlds.shapes import vocabulary

PAD, BOS = 0, 1
SPECIALS: tuple[str, ...] = ("<pad>", "<bos>")
MAX_TOKENS = 32


class WordTokenizer:
    """Maps whitespace-separated words of ``vocabulary()`` to ids; ``<bos>`` starts every row.

    An empty text (the dropped condition of classifier-free guidance) is ``<bos>`` alone,
    so attention always has at least one key.
    """

    def __init__(self, words: list[str] | None = None, max_tokens: int = MAX_TOKENS) -> None:
        self.words = list(SPECIALS) + list(words if words is not None else vocabulary())
        self.index = {w: i for i, w in enumerate(self.words)}
        self.max_tokens = max_tokens

    @property
    def size(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` (lower-cased, split on whitespace), ``<bos>`` first.

        Raises:
            ValueError: a word outside the vocabulary, or a text longer than ``max_tokens``.
        """
        ids = [BOS]
        for word in text.lower().split():
            if word not in self.index:
                raise ValueError(
                    f"word {word!r} in {text!r} is not in the shapes vocabulary "
                    f"({len(self.words) - len(SPECIALS)} words, see world.vocabulary())"
                )
            ids.append(self.index[word])
        if len(ids) > self.max_tokens:
            raise ValueError(
                f"text has {len(ids) - 1} words, more than {self.max_tokens - 1}: {text!r}"
            )
        return ids

    def batch(self, texts: list[str]) -> torch.Tensor:
        """``(B, L)`` long tensor, right-padded with ``<pad>`` to the longest row."""
        rows = [self.encode(t) for t in texts]
        width = max(len(r) for r in rows)
        out = torch.full((len(rows), width), PAD, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r)
        return out


def null_tokens_like(tokens: torch.Tensor) -> torch.Tensor:
    """The empty text (``<bos>`` then padding) with the same shape as ``tokens``.

    Same width as the conditional rows so CFG branches concatenate into one batch; the
    padding is masked everywhere, so the encoding equals that of ``<bos>`` alone.
    """
    out = torch.full_like(tokens, PAD)
    out[:, 0] = BOS
    return out
