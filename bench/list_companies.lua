-- wrk script for bench/list_companies.py: an admin lists companies by city, page after page.
--   BENCH_TOKEN  access token sent as "Authorization: Bearer ..."
--   BENCH_PATHS  space-separated request paths (cities already URL-encoded), rotated per request
-- Prints p50/p95/p99 latency (ms), requests/s and the count of non-2xx answers.

local token = os.getenv("BENCH_TOKEN")
local paths = {}
for path in string.gmatch(os.getenv("BENCH_PATHS") or "/health", "%S+") do
    paths[#paths + 1] = path
end

local counter = 0
local threads = {}

function setup(thread)
    thread:set("id", #threads)
    threads[#threads + 1] = thread
end

function init(args)
    counter = id * 7  -- threads start at different places in the rotation
    wrk.headers["Authorization"] = "Bearer " .. token
    wrk.headers["Accept"] = "application/json"
end

function request()
    counter = counter + 1
    return wrk.format("GET", paths[(counter % #paths) + 1])
end

function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local errors = summary.errors
    io.write("--- list_companies ---\n")
    io.write(string.format("paths=%d requests=%d seconds=%.1f\n", #paths, summary.requests, seconds))
    io.write(string.format("rps=%.1f\n", summary.requests / seconds))
    for _, p in ipairs({ 50, 95, 99 }) do
        io.write(string.format("p%d_ms=%.2f\n", p, latency:percentile(p) / 1000))
    end
    io.write(string.format("mean_ms=%.2f max_ms=%.2f\n", latency.mean / 1000, latency.max / 1000))
    io.write(string.format(
        "non_2xx=%d connect_errors=%d read_errors=%d timeouts=%d\n",
        errors.status, errors.connect, errors.read, errors.timeout
    ))
end
