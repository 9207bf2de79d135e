"""Every domain's models, imported in one place so Alembic and the mappers see them all."""

from sauda.auth.models import Invite, RefreshToken, Role, User
from sauda.db import Base
from sauda.jobs.models import Job, JobStatus
from sauda.kaspi.models import KaspiOffer, KaspiStore, OfferState, StoreStatus
from sauda.network.models import Company, CompanyKind, DebtEntry, DebtReason, DebtRun, Product

__all__ = [
    "Base",
    "Company",
    "CompanyKind",
    "DebtEntry",
    "DebtReason",
    "DebtRun",
    "Invite",
    "Job",
    "JobStatus",
    "KaspiOffer",
    "KaspiStore",
    "OfferState",
    "Product",
    "RefreshToken",
    "Role",
    "StoreStatus",
    "User",
]
