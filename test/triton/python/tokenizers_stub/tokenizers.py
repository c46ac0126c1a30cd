"""A stand-in for the Hugging Face `tokenizers` package where it is not installed: Tokenizer.from_file
for a BERT-style WordPiece tokenizer.json (lowercasing, whitespace and punctuation split, greedy
longest-match WordPiece, [CLS] ... [SEP]), with the methods templates/tokenizer/model.py calls.
Tests use the real package when it is importable."""

import json
import re


class Encoding:
    def __init__(self, ids):
        self.ids = ids
        self.attention_mask = [1] * len(ids)
        self.type_ids = [0] * len(ids)


class Tokenizer:
    def __init__(self, spec):
        model = spec["model"]
        self.vocab = model["vocab"]
        self.unk = self.vocab[model["unk_token"]]
        self.prefix = model["continuing_subword_prefix"]
        special = spec["post_processor"]["special_tokens"]
        self.cls = special["[CLS]"]["ids"][0]
        self.sep = special["[SEP]"]["ids"][0]
        self.max_length = None

    @staticmethod
    def from_file(path):
        with open(path, encoding="utf-8") as f:
            return Tokenizer(json.load(f))

    def no_padding(self):
        pass

    def no_truncation(self):
        self.max_length = None

    def enable_truncation(self, max_length):
        self.max_length = max_length

    def _word(self, word):
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.vocab:
                    pieces.append(self.vocab[piece])
                    break
                end -= 1
            if end == start:
                return [self.unk]
            start = end
        return pieces

    def encode_batch(self, texts):
        encodings = []
        for text in texts:
            ids = [i for word in re.findall(r"\w+|[^\w\s]", text.lower()) for i in self._word(word)]
            if self.max_length is not None:
                ids = ids[: self.max_length - 2]
            encodings.append(Encoding([self.cls] + ids + [self.sep]))
        return encodings
