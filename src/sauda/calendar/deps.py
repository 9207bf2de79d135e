from typing import Annotated

from fastapi import Depends

from sauda.auth.deps import admin_or_client
from sauda.auth.models import ClientScope
from sauda.calendar.models import Event
from sauda.calendar.repository import EventRepository
from sauda.db import SessionDep
from sauda.types import BigId

# Admins (Bearer JWT) and integration clients holding the `calendar` scope (the Telegram bot).
calendar_caller = admin_or_client(ClientScope.calendar)


async def event_by_id(event_id: BigId, session: SessionDep) -> Event:
    return await EventRepository(session).get(event_id)


EventById = Annotated[Event, Depends(event_by_id)]
