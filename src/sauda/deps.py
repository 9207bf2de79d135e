"""Dependencies every domain shares: settings, Redis, the business day.

They are `async def` even when they never await: FastAPI runs sync ones in the thread pool,
which costs more than the work they do.
"""

from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from sauda.clock import business_today
from sauda.config import Settings


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_business_today(settings: SettingsDep) -> date:
    return business_today(settings.tz)


BusinessToday = Annotated[date, Depends(get_business_today)]


async def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


RedisDep = Annotated[Redis, Depends(get_redis)]
