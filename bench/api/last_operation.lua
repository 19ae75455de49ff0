-- GET /v2/service_instances/<iid>/service_bindings/<bid>/last_operation on existing bindings,
-- read from the file BENCH_BINDINGS ("<iid> <bid>" per line), round robin.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/common.lua")

local requests = {}
for line in io.lines(os.getenv("BENCH_BINDINGS")) do
  local iid, bid = string.match(line, "^(%S+)%s+(%S+)")
  if iid then
    table.insert(requests, wrk.format("GET",
      "/v2/service_instances/" .. iid .. "/service_bindings/" .. bid .. "/last_operation"))
  end
end
local n = 0

function request()
  n = n + 1
  return requests[(n % #requests) + 1]
end
