-- list: GET /tasks/, the first page at the default limit, 200 {"items": [...], "next": ...}.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "contract.lua")

wrk.method = "GET"
wrk.path = "/tasks/"

function judge(status, body)
  return status == 200 and starts_with_key(body, "items")
end
