"""The tokenizer files of a Hugging Face ALBERT folder, so `AutoTokenizer.from_pretrained(dir)` loads it.

Writes `spiece.model` (the SentencePiece model, unchanged),
`tokenizer_config.json` (`tokenizer_class: AlbertTokenizer`, ALBERT's special
pieces, lowercasing and accent options) and `special_tokens_map.json`.
`transformers` builds its tokenizer from `spiece.model` on load.

Measured with transformers 5 on the 872 SST-2 dev sentences: its
`AlbertTokenizer` gives albert_tf's (= SentencePiece's) ids for only 24 of them.
It turns the SentencePiece model's user-defined pieces (`( ) " - . – £ €` in
the released ALBERT vocabulary) into added tokens matched on the raw text, so
the `▁` before them is lost ("journey ." -> `▁journey .` where SentencePiece
gives `▁journey ▁ .`), and it does not re-split "1," pieces. The weights are
exact; feed the exported model albert_tf's ids when the text has those characters.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Mapping

from albert_tf.tokenizer import AlbertTokenizer

SPM_FILE = "spiece.model"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"


def hf_tokenizer_config(tokenizer: AlbertTokenizer, model_max_length: int,
                        options: Mapping[str, bool] | None = None) -> dict:
    """The `tokenizer_config.json` of transformers' `AlbertTokenizer` for this SentencePiece model.

    Args:
        tokenizer: the albert_tf tokenizer (its special pieces are looked up, not assumed).
        model_max_length: the longest input the model takes (its max_position_embeddings).
        options: `lower_case` and `strip_accents` (default: ALBERT's, both True).
    """
    options = dict(options or {})
    special = {
        "pad_token": tokenizer.id_to_piece(tokenizer.pad_id),
        "unk_token": tokenizer.id_to_piece(tokenizer.unk_id),
        "cls_token": tokenizer.id_to_piece(tokenizer.cls_id),
        "sep_token": tokenizer.id_to_piece(tokenizer.sep_id),
        "mask_token": tokenizer.id_to_piece(tokenizer.mask_id),
    }
    return {
        "tokenizer_class": "AlbertTokenizer",
        "do_lower_case": bool(options.get("lower_case", True)),
        "keep_accents": not bool(options.get("strip_accents", True)),
        "remove_space": True,
        "bos_token": special["cls_token"],
        "eos_token": special["sep_token"],
        **special,
        "model_max_length": int(model_max_length),
    }


def write_hf_tokenizer(output_dir: str | os.PathLike, tokenizer_proto: bytes, model_max_length: int,
                       options: Mapping[str, bool] | None = None) -> list[str]:
    """Writes spiece.model, tokenizer_config.json and special_tokens_map.json into `output_dir`.

    Returns:
        The paths written.
    """
    from albert_tf.io_utils import atomic_write_bytes, atomic_write_text

    tokenizer = AlbertTokenizer.from_serialized_proto(tokenizer_proto)
    config = hf_tokenizer_config(tokenizer, model_max_length, options)
    folder = pathlib.Path(output_dir)
    paths = [folder / SPM_FILE, folder / TOKENIZER_CONFIG_FILE, folder / SPECIAL_TOKENS_FILE]
    atomic_write_bytes(paths[0], tokenizer_proto)
    atomic_write_text(paths[1], json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    special = {name: value for name, value in config.items() if name.endswith("_token")}
    atomic_write_text(paths[2], json.dumps(special, indent=2, ensure_ascii=False) + "\n")
    return [str(path) for path in paths]


def read_hf_tokenizer(directory: str | os.PathLike) -> bytes | None:
    """The SentencePiece model of a Hugging Face ALBERT folder (its spiece.model), or None."""
    path = pathlib.Path(directory)
    path = path if path.is_dir() else path.parent
    candidate = path / SPM_FILE
    return candidate.read_bytes() if candidate.is_file() else None
