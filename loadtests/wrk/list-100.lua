-- list-100: GET /tasks/?limit=100, the first page of 100 tasks, 200 {"items": [...], "next": ...}.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "contract.lua")

wrk.method = "GET"
wrk.path = "/tasks/?limit=100"  -- bench.load.scenarios.LIST_LIMITS["list-100"]

function judge(status, body)
  return status == 200 and starts_with_key(body, "items")
end
