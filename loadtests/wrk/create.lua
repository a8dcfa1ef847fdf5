-- create: POST /tasks/ with the Locust CreateUser's JSON body, 201 with the stored task.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "contract.lua")

wrk.method = "POST"
wrk.path = "/tasks/"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "load test task", "description": "written by the create scenario"}'

function judge(status, body)
  return status == 201 and starts_with_key(body, "id")
end
