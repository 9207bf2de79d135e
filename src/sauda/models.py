"""Every domain's models, imported in one place so Alembic and the mappers see them all."""

from sauda.auth.models import ClientScope, IntegrationClient, Invite, RefreshToken, Role, User
from sauda.calendar.models import Appointment, AppointmentSlot, AppointmentStatus, BotStatistics, Event
from sauda.db import Base
from sauda.exchange.models import Batch, Change, Cursor, Entity
from sauda.jobs.models import Job, JobStatus
from sauda.kaspi.models import (
    KaspiOffer,
    KaspiPreorder,
    KaspiPriceHistory,
    KaspiProxy,
    KaspiStore,
    OfferState,
    StoreStatus,
)
from sauda.network.models import Company, CompanyKind, DebtEntry, DebtReason, DebtRun, Product
from sauda.sales.models import (
    Customer,
    DailyPointSales,
    DailyProductSales,
    Point,
    Sale,
    SalesImport,
    SalesImportChunk,
)

__all__ = [
    "Appointment",
    "AppointmentSlot",
    "AppointmentStatus",
    "Base",
    "Batch",
    "BotStatistics",
    "Change",
    "ClientScope",
    "Company",
    "CompanyKind",
    "Cursor",
    "Customer",
    "DailyPointSales",
    "DailyProductSales",
    "DebtEntry",
    "DebtReason",
    "DebtRun",
    "Entity",
    "Event",
    "IntegrationClient",
    "Invite",
    "Job",
    "JobStatus",
    "KaspiOffer",
    "KaspiPreorder",
    "KaspiPriceHistory",
    "KaspiProxy",
    "KaspiStore",
    "OfferState",
    "Point",
    "Product",
    "RefreshToken",
    "Role",
    "Sale",
    "SalesImport",
    "SalesImportChunk",
    "StoreStatus",
    "User",
]
