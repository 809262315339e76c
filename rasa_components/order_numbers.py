"""Order numbers as `order_id` entities, whatever script or particle surrounds them
(bot/order_numbers.py): Rasa's RegexEntityExtractor needs word boundaries, which a Korean
particle or a Turkish suffix written straight after the digits removes, and it keeps
Arabic-Indic digits as they are."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.order_numbers import find_order_numbers

ENTITY = "order_id"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class OrderNumberExtractor(GraphComponent, EntityExtractorMixin):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> OrderNumberExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            found = [
                {
                    "entity": ENTITY,
                    "start": start,
                    "end": end,
                    "value": number,
                    "extractor": self.__class__.__name__,
                }
                for start, end, number in find_order_numbers(message.get(TEXT) or "")
            ]
            message.set(ENTITIES, [*message.get(ENTITIES, []), *found], add_to_output=True)
        return messages
