"""The conversation's language, from the gateway's message metadata (bot/contract.py) into a
`language` entity, which fills the `language` slot (domain.yml): the actions and the NLG
endpoint answer in it, and a shopper who switches language is answered in the new one from
that message on. Messages without it (rasa shell, test stories) leave the slot as it is."""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.training_data.message import Message

from bot.contract import LANGUAGE_SLOT, language_of
from rasa_components.message_entities import MessageEntities


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageFromMetadata(MessageEntities):
    def entities(self, message: Message) -> list[dict[str, Any]]:
        language = language_of(message.get("metadata"))
        return [{"entity": LANGUAGE_SLOT, "value": language}] if language else []
