-- GET /v2/catalog (the URL is wrk's): the broker, and nginx serving the same bytes.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/common.lua")
