-- mixed: the Locust MixedUser's 8 first-page reads to 2 creates, in a fixed cycle of ten requests.
-- A response cannot be matched to its request in wrk's Lua (one state serves all of a thread's
-- connections), so each answer is judged by its own kind: a page with 200, a created task with 201.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "contract.lua")

local LIST_WEIGHT, CREATE_WEIGHT = 8, 2  -- bench.scenarios.MIXED_LIST_WEIGHT, MIXED_CREATE_WEIGHT
local list_request, create_request
local sent = 0

function prepare()
  list_request = wrk.format("GET", "/tasks/")
  create_request = wrk.format("POST", "/tasks/", {["Content-Type"] = "application/json"},
    '{"title": "load test task", "description": "written by the create scenario"}')
end

function request()
  sent = sent + 1
  if sent % (LIST_WEIGHT + CREATE_WEIGHT) < CREATE_WEIGHT then
    return create_request
  end
  return list_request
end

function judge(status, body)
  if status == 200 then
    return starts_with_key(body, "items")
  end
  return status == 201 and starts_with_key(body, "id")
end
