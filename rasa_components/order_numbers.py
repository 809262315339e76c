"""Order numbers as `order_id` entities, whatever script or particle surrounds them
(bot/order_numbers.py): Rasa's RegexEntityExtractor needs word boundaries, which a Korean
particle or a Turkish suffix written straight after the digits removes, and it keeps
Arabic-Indic digits as they are."""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.order_numbers import find_order_numbers
from rasa_components.message_entities import MessageEntities

ENTITY = "order_id"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class OrderNumberExtractor(MessageEntities):
    def entities(self, message: Message) -> list[dict[str, Any]]:
        return [
            {"entity": ENTITY, "start": start, "end": end, "value": number}
            for start, end, number in find_order_numbers(message.get(TEXT) or "")
        ]
