-- Shared by the bench's wrk scripts (loaded with dofile from each of them).
--
-- Environment (set by bench/api/run):
--   BENCH_AUTH    value of the Authorization header ("Basic ...")
--   BENCH_EXPECT  the one HTTP status every response must have (e.g. 201)
--   BENCH_NONCE   8 hex digits, new for every wrk run, so ids never repeat across runs
--
-- Every thread counts responses whose status is not BENCH_EXPECT; done() prints one machine-
-- readable line, "BENCH key=value ...", that the driver parses, and the first bad response.

SERVICE_ID = "647a5929-f551-403c-b5c3-d587684999fd"
PLAN_ID = "e87ec4cb-9b71-4136-a471-6904dbc038e9"

wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
wrk.headers["X-Broker-API-Version"] = "2.17"
wrk.headers["Content-Type"] = "application/json"

local expect = tonumber(os.getenv("BENCH_EXPECT") or "200")
local nonce = os.getenv("BENCH_NONCE") or "00000000"

-- Main state: number the threads and keep them for done().
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- Thread state (tid is set by setup before the thread starts).
bad = 0
first_bad_status = 0
first_bad_body = ""
local counter = 0

-- A UUID-shaped id, unique per run, thread and call: NONCE-TTTT-4KKK-8000-CCCCCCCCCCCC.
-- `kind` (0..4095) keeps ids of different kinds (instance, binding, app) apart.
function new_id(kind)
  counter = counter + 1
  return string.format("%s-%04x-4%03x-8000-%012x", nonce, tid or 0, kind, counter)
end

function response(status, headers, body)
  if status ~= expect then
    bad = bad + 1
    if first_bad_status == 0 then
      first_bad_status = status
      first_bad_body = string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local nbad, fstatus, fbody = 0, 0, ""
  for _, t in ipairs(threads) do
    nbad = nbad + t:get("bad")
    if fstatus == 0 and t:get("first_bad_status") ~= 0 then
      fstatus = t:get("first_bad_status")
      fbody = t:get("first_bad_body")
    end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d max_us=%d expect=%d bad_status=%d"
      .. " err_connect=%d err_read=%d err_write=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50.0), latency:percentile(99.0), latency.max, expect, nbad,
    e.connect, e.read, e.write, e.timeout))
  if nbad > 0 then
    io.write(string.format("BENCH_FIRST_BAD status=%d body=%s\n", fstatus, fbody))
  end
end
