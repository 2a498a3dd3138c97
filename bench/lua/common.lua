-- Shared by the wrk scripts: per-thread ids for unique names, and a done()
-- that prints one machine-readable line the harness parses:
--   RESULT requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N max_us=N
--          errors_status=N errors_connect=N errors_read=N errors_write=N errors_timeout=N
local threads = {}
local counter = 0
local tid = 0

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function next_name()
   counter = counter + 1
   return string.format("b%d-%d-%d", RUN_ID, tid, counter)
end

function init(args)
   tid = wrk.thread:get("tid") or 0
   RUN_ID = tonumber(os.getenv("BENCH_RUN_ID") or "0") or 0
   if init_body then init_body(args) end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "errors_status=%d errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end
