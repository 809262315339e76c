"""The base of every action that touches orders or the FAQ: it cannot leave the shopper
hanging."""

from __future__ import annotations

import abc
import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import hand_off, texts_for
from bot import contract, replies
from bot.faq import service as faq
from bot.orders import OrderSourceUnavailable
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# Actions run here, so one that is given up on does not hold the action server's event loop.
ACTION_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="action")
# Set by the verification form when it could not look the order up; the answer hands off.
ORDER_SYSTEM_DOWN_SLOT = "order_system_down"


def time_budget() -> float:
    """Seconds an action may take (`ACTION_TIME_BUDGET_SECONDS`, 8 by default): a slow order
    source or database must not leave the shopper waiting for Rasa's 5-minute timeout."""
    return get_settings().action_time_budget_seconds


def order_system_down(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The shop's order system is down: say so (nothing was changed) and ask for a person."""
    dispatcher.utter_message(text=texts_for(tracker)(replies.ORDER_SYSTEM_DOWN))
    return [
        SlotSet("pending_action", None),
        SlotSet(ORDER_SYSTEM_DOWN_SLOT, False),
        *hand_off(dispatcher, tracker, contract.ORDER_SYSTEM_DOWN),
    ]


class ShopAction(Action, abc.ABC):
    """If the action fails or runs past its time budget, the shopper gets an apology and a
    person (handoff reason "action_error")."""

    uses_faq = False

    @abc.abstractmethod
    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """What the action does; `run` guards it."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # In a thread, so a slow call can be given up on (and the action server's event loop
        # keeps serving other conversations meanwhile); its own dispatcher, so a late
        # finish cannot add to what was already sent.
        _ = texts_for(tracker)
        attempt = CollectingDispatcher()
        if self.uses_faq:  # loading the FAQ model once is not the action being slow
            await asyncio.to_thread(faq.warm_up)
        try:
            work = asyncio.get_running_loop().run_in_executor(
                ACTION_THREADS, self.act, attempt, tracker, domain
            )
            events = await asyncio.wait_for(work, time_budget())
        except OrderSourceUnavailable:
            logger.warning("action %s: the order system is unreachable", self.name())
            return order_system_down(dispatcher, tracker)
        except Exception as error:
            if isinstance(error, TimeoutError):
                logger.error("action %s ran past %.0f s", self.name(), time_budget())
            else:
                logger.exception("action %s failed", self.name())
            dispatcher.utter_message(text=_(replies.SOMETHING_WENT_WRONG))
            return [
                SlotSet("pending_action", None),
                *hand_off(dispatcher, tracker, contract.ACTION_ERROR),
            ]
        dispatcher.messages.extend(attempt.messages)
        return events
