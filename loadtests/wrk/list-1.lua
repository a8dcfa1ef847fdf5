-- list-1: GET /tasks/?limit=1, the first page of 1 task, 200 {"items": [...], "next": ...}.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "contract.lua")

wrk.method = "GET"
wrk.path = "/tasks/?limit=1"  -- bench.load.scenarios.LIST_LIMITS["list-1"]

function judge(status, body)
  return status == 200 and starts_with_key(body, "items")
end
