-- wrk script: POST one ConfigMap with a 1 KiB data value per request, each
-- with a unique name. Env: BENCH_TOKEN (admin bearer), BENCH_RUN_ID.
package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua"
require("common")

local value = string.rep("v", 1024)
local hdrs

function init_body(args)
   hdrs = {
      ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or ""),
      ["Content-Type"] = "application/json",
   }
end

function request()
   local body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"' .. next_name() ..
      '"},"data":{"v":"' .. value .. '"}}'
   return wrk.format("POST", "/api/v1/namespaces/default/configmaps", hdrs, body)
end
