-- PUT /v2/service_instances/<new id>?accepts_incomplete=true: every request a new instance (201).
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/common.lua")

local body = string.format(
  '{"service_id":"%s","plan_id":"%s",'
    .. '"organization_guid":"0f9c3b8e-1d7a-4c2b-9e55-6a1f2b3c4d5e","space_guid":"7d2e4f60-8a9b-4c1d-a2e3-f4a5b6c7d8e9",'
    .. '"context":{"platform":"cloudfoundry","organization_guid":"0f9c3b8e-1d7a-4c2b-9e55-6a1f2b3c4d5e",'
    .. '"space_guid":"7d2e4f60-8a9b-4c1d-a2e3-f4a5b6c7d8e9"}}',
  SERVICE_ID, PLAN_ID)

function request()
  return wrk.format("PUT", "/v2/service_instances/" .. new_id(1) .. "?accepts_incomplete=true", nil, body)
end
