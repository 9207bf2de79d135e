from typing import Annotated

from fastapi import Depends, Path

from sauda.auth.deps import admin_or_client
from sauda.auth.models import ClientScope
from sauda.calendar.models import Event
from sauda.calendar.repository import EventRepository
from sauda.db import SessionDep

# Admins (Bearer JWT) and integration clients holding the `calendar` scope (the Telegram bot).
calendar_caller = admin_or_client(ClientScope.calendar)


async def event_by_id(event_id: Annotated[int, Path(ge=1)], session: SessionDep) -> Event:
    return await EventRepository(session).get(event_id)


EventById = Annotated[Event, Depends(event_by_id)]
