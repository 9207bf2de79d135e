from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends

from sauda.auth.deps import ScopeDep
from sauda.db import SessionDep
from sauda.deps import SettingsDep
from sauda.sales.models import Customer, Point, Sale
from sauda.sales.repository import CustomerRepository, PointRepository, SaleRepository
from sauda.types import BigId, Id


async def point_in_scope(point_id: Id, session: SessionDep, scope: ScopeDep) -> Point:
    return await PointRepository(session, scope).get(point_id)


async def customer_in_scope(customer_id: Id, session: SessionDep, scope: ScopeDep) -> Customer:
    return await CustomerRepository(session, scope).get(customer_id)


async def sale_in_scope(sale_id: BigId, session: SessionDep, scope: ScopeDep) -> Sale:
    return await SaleRepository(session, scope).get(sale_id)


async def sale_for_update(sale_id: BigId, session: SessionDep, scope: ScopeDep) -> Sale:
    return await SaleRepository(session, scope).get_for_update(sale_id)


def business_tz(settings: SettingsDep) -> ZoneInfo:
    return settings.tz


ScopedPoint = Annotated[Point, Depends(point_in_scope)]
ScopedCustomer = Annotated[Customer, Depends(customer_in_scope)]
ScopedSale = Annotated[Sale, Depends(sale_in_scope)]
LockedSale = Annotated[Sale, Depends(sale_for_update)]
BusinessTz = Annotated[ZoneInfo, Depends(business_tz)]
