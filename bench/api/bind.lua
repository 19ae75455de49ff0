-- PUT /v2/service_instances/<iid>/service_bindings/<new id>?accepts_incomplete=true against the
-- instances in BENCH_INSTANCES (comma-separated, created beforehand): the broker records the
-- binding and its clone job and answers 202.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/common.lua")

local instances = {}
for id in string.gmatch(os.getenv("BENCH_INSTANCES") or "", "[^,]+") do
  table.insert(instances, id)
end
local n = 0

function request()
  n = n + 1
  local iid = instances[(n % #instances) + 1]
  local body = string.format('{"service_id":"%s","plan_id":"%s","bind_resource":{"app_guid":"%s"}}',
    SERVICE_ID, PLAN_ID, new_id(3))
  return wrk.format("PUT",
    "/v2/service_instances/" .. iid .. "/service_bindings/" .. new_id(2) .. "?accepts_incomplete=true",
    nil, body)
end
