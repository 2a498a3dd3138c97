-- wrk script: etcd v3 JSON gateway put of a unique key with a 1 KiB value.
-- Keys mirror skiff's layout (/registry/configmaps/default/NAME) so both
-- stores index keys of the same length. Env: BENCH_RUN_ID.
package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua"
require("common")

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
   return ((s:gsub(".", function(x)
      local r, b = "", x:byte()
      for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
      return r
   end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
      if #x < 6 then return "" end
      local c = 0
      for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
      return b64chars:sub(c + 1, c + 1)
   end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

local value64 = b64(string.rep("v", 1024))
local hdrs = { ["Content-Type"] = "application/json" }

function request()
   local body = '{"key":"' .. b64("/registry/configmaps/default/" .. next_name()) ..
      '","value":"' .. value64 .. '"}'
   return wrk.format("POST", "/v3/kv/put", hdrs, body)
end
