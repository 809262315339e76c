"""Rasa's Redis lock store, fixed for a Rasa server that dies holding a conversation's lock.

Rasa gives each message of a conversation a ticket (a number and an expiry,
TICKET_LOCK_LIFETIME); a message waits until its ticket is the first one left. A server that
died leaves its ticket until it expires. But Rasa lets the waiting ticket expire too, by the
same lifetime: issued a moment after the dead one, it expires in the same second, and then
the message waits for a ticket that no longer exists, forever (found when a Rasa server was
killed among 20 conversations: every message moved to another server hung). Here a waiting
ticket is kept alive while it waits, so it is served once the dead one has expired.

Selected in the endpoints file (bot/stack.py): `lock_store: {type:
rasa_components.lock_store.FailoverRedisLockStore, url: HOST, port, db, password, ...}`,
the same settings as Rasa's `type: redis`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig


class FailoverRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        settings: dict[str, Any] = dict(endpoint_config.kwargs)
        settings.pop("type", None)
        super().__init__(host=endpoint_config.url, **settings)

    async def _acquire_lock(
        self, conversation_id: str, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        while True:
            lock = self.get_lock(conversation_id)
            if lock is None:
                break
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait_time_in_seconds)
            self._keep_waiting(conversation_id, ticket)
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")

    def _keep_waiting(self, conversation_id: str, ticket: int) -> None:
        """Drop expired tickets (a dead server's), and give the waiting one a new lifetime,
        putting it back in its place if it had expired itself."""
        lock = self.get_lock(conversation_id)
        if lock is None:
            return
        lock.remove_expired_tickets()
        expires = time.time() + LOCK_LIFETIME
        mine = next((t for t in lock.tickets if t.number == ticket), None)
        if mine is None:
            lock.tickets.append(Ticket(ticket, expires))
            lock.tickets.sort(key=lambda t: t.number)
        else:
            mine.expires = expires
        self.save_lock(lock)
