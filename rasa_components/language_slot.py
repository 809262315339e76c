"""The conversation's language, from the gateway's message metadata (bot/contract.py) into a
`language` entity, which fills the `language` slot (domain.yml): the actions and the NLG
endpoint answer in it, and a shopper who switches language is answered in the new one from
that message on. Messages without it (rasa shell, test stories) leave the slot as it is."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message

from bot.contract import LANGUAGE_SLOT, language_of


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageFromMetadata(GraphComponent, EntityExtractorMixin):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageFromMetadata:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            language = language_of(message.get("metadata"))
            if language:
                entity = {
                    "entity": LANGUAGE_SLOT,
                    "value": language,
                    "extractor": self.__class__.__name__,
                }
                message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages
