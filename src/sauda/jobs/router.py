import uuid

from fastapi import APIRouter
from sqlalchemy import select

from sauda.auth.deps import CurrentUser
from sauda.db import SessionDep
from sauda.errors import NotFound
from sauda.jobs.models import Job
from sauda.jobs.schemas import JobOut

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut)
async def get_job(job_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> JobOut:
    """Status of a job you started (administrators: any job)."""
    stmt = select(Job).where(Job.id == job_id)
    if not user.is_admin:
        stmt = stmt.where(Job.user_id == user.id)
    job = await session.scalar(stmt)
    if job is None:
        raise NotFound(f"Job {job_id} not found")
    return JobOut.model_validate(job)
