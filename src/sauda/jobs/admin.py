"""sqladmin view of worker jobs."""

from sauda.admin import EnumFilter, SaudaView
from sauda.jobs.models import Job, JobStatus


class JobAdmin(SaudaView, model=Job):
    """Worker jobs somebody started (read-only)."""

    can_create = False
    can_edit = False
    can_delete = False
    column_list = [
        Job.id,
        Job.name,
        Job.status,
        Job.attempts,
        Job.user_id,
        Job.created_at,
        Job.finished_at,
        Job.error,
    ]
    column_sortable_list = [Job.name, Job.status, Job.created_at, Job.finished_at]
    column_default_sort = (Job.created_at, True)
    column_filters = [EnumFilter(Job.status, JobStatus)]


def views() -> list[type[SaudaView]]:
    return [JobAdmin]
