"""Word-level tokenizer of the shapes world, built offline with the ``tokenizers`` library."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from hbench.worlds.shapes import vocabulary

PAD, UNK, BOS, EOS, SEP = "<pad>", "<unk>", "<bos>", "<eos>", "<sep>"
SPECIALS: tuple[str, ...] = (PAD, UNK, BOS, EOS, SEP)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A whitespace word-level tokenizer over the world's vocabulary (ids are stable: sorted)."""
    vocab = {tok: i for i, tok in enumerate([*SPECIALS, *vocabulary()])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return _wrap(core)


def load_tokenizer(path: Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer saved by :func:`save_tokenizer` (a ``tokenizers`` JSON file)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"tokenizer file {path} does not exist")
    return _wrap(Tokenizer.from_file(str(path)))


def save_tokenizer(tok: PreTrainedTokenizerFast, path: Path) -> None:
    """Write the tokenizer as a single ``tokenizers`` JSON file."""
    tok.backend_tokenizer.save(str(path))


def _wrap(core: Tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        unk_token=UNK,
        bos_token=BOS,
        eos_token=EOS,
        sep_token=SEP,
    )


def prompt_ids(tok, prompt: str) -> list[int]:
    """``<bos> prompt <sep>`` token ids (the model answers after ``<sep>``)."""
    return [tok.bos_token_id, *tok.encode(prompt, add_special_tokens=False), tok.sep_token_id]
