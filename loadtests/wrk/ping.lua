-- ping: GET /ping/, 200 {"ping": "pong"} (the Locust PingUser's request).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "contract.lua")

wrk.method = "GET"
wrk.path = "/ping/"

function judge(status, body)
  return status == 200 and starts_with_key(body, "ping")
end
