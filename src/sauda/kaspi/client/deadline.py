"""One time budget for everything an API request asks of Kaspi.

A merchant waiting on an API request gets an answer within `interactive_timeout_seconds`: the
request sets a deadline (`interactive`) and every outside interaction made while serving it
(each attempt and backoff, pacing waits, a re-login, a browser step) runs `bounded` by that same
deadline, so the budget is the total, not per call. Past it: `KaspiTimeout` (504). Worker jobs
set none and keep their longer timeouts.

A context variable rather than a parameter: the budget belongs to the request, and the Kaspi
calls it makes sit several layers down (services → gateway → clients) in code the worker shares.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sauda.kaspi.client.errors import KaspiTimeout


@dataclass(frozen=True)
class Budget:
    seconds: float
    deadline: float  # on the event loop's clock, as asyncio.timeout_at reads it


_budget: ContextVar[Budget | None] = ContextVar("kaspi_budget", default=None)
_inside: ContextVar[bool] = ContextVar("kaspi_budget_inside", default=False)


@contextmanager
def interactive(seconds: float) -> Iterator[None]:
    """Kaspi calls made inside this block end within `seconds` from now, all of them together."""
    previous = _budget.get()
    _budget.set(Budget(seconds, asyncio.get_running_loop().time() + seconds))
    try:
        yield
    finally:
        # Set back rather than reset by token: the block may end in another copy of the context.
        _budget.set(previous)


@asynccontextmanager
async def bounded() -> AsyncIterator[None]:
    """Cut the block off at the request's deadline (no deadline: a worker job, no limit). Nested
    blocks share the outer one's deadline, so only the outermost arms a timeout."""
    budget = _budget.get()
    if budget is None or _inside.get():
        yield
        return
    _inside.set(True)
    timeout = asyncio.timeout_at(budget.deadline)
    try:
        async with timeout:
            yield
    except TimeoutError as exc:
        if not timeout.expired():  # someone else's timeout
            raise
        raise KaspiTimeout(f"Kaspi did not answer within {budget.seconds:g} s; try again later") from exc
    finally:
        _inside.set(False)
