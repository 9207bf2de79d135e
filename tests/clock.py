"""Time that tests move forward instead of sleeping until it has passed."""

import time
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

# Every key with a time to live in this database expires `ARGV[1]` ms sooner; atomic, so no
# key is read and rewritten while the code under test changes it.
_FAST_FORWARD = """
local ms = tonumber(ARGV[1])
local cursor = "0"
repeat
  local page = redis.call('SCAN', cursor, 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    local left = redis.call('PTTL', key)
    if left > 0 then
      if left <= ms then redis.call('DEL', key) else redis.call('PEXPIRE', key, left - ms) end
    end
  end
until cursor == "0"
return 0
"""


class ForwardClock:
    """Real time plus an offset that only grows. `advance()` moves the service and the Kaspi
    sandbox (both read `sauda.clock`) and the TTLs of the test's Redis database (bench, locks,
    cool-downs) forward together; pacing that waits on the event loop still takes real time."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    async def advance(self, seconds: float) -> None:
        assert seconds >= 0, "time only moves forward"
        self.offset += seconds
        await self.redis.eval(_FAST_FORWARD, 0, str(round(seconds * 1000)))  # type: ignore[misc]
