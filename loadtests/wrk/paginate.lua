-- paginate: walks GET /tasks/?limit=100 following `next` to the end, as the Locust PaginateUser does.
-- One Lua state serves all of a thread's connections, so the cursors a thread has been handed wait in
-- one queue: each request continues a walk when a cursor is waiting, else starts a new one.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "contract.lua")

local PAGE_LIMIT = 100  -- bench.scenarios.PAGE_LIMIT
local first_page
local cursors = {}

function prepare()
  first_page = wrk.format("GET", "/tasks/?limit=" .. PAGE_LIMIT)
end

function request()
  local cursor = table.remove(cursors, 1)
  if cursor == nil then
    return first_page
  end
  return wrk.format("GET", "/tasks/?after=" .. cursor .. "&limit=" .. PAGE_LIMIT)
end

function judge(status, body)
  if status ~= 200 or not starts_with_key(body, "items") then
    return false
  end
  local cursor = body:match('"next"%s*:%s*"([%w_%-]+)"')
  if cursor ~= nil then
    table.insert(cursors, cursor)
  end
  return true
end
