-- The HE service from Lua through the generic he.call: a server process
-- (tests/cli/serve/tiny_server.he, on 127.0.0.1) and a client session whose
-- decrypted logits equal the plaintext model's (within 1% of the largest).
local T = dofile((arg[0]:match("(.*/)") or "./") .. "lib/check.lua")
local he = require "he"

-- the he command beside the module (LUA_CPATH="BUILD/?.so;;")
local build = (os.getenv("LUA_CPATH") or "build/?.so"):match("([^;]*)/%?%.so") or "build"
local HE = build .. "/he"
local tmp = T.tmppath("serve")
assert(os.execute("mkdir -p '" .. tmp .. "'"))
math.randomseed(os.time(), tonumber(tostring({}):match("0x(%x+)"), 16) or 0)
local port = 20000 + math.random(0, 39999)
local addr = "tcp://127.0.0.1:" .. port

he.run([[
import ckks
import cryptonets
import serve
cryptonets.geometry(8, 3, 2, 8, 4)
cryptonets.init(7)
fn plain_logits(X: float[?, ?]) -> float[?, ?] { return cryptonets.logits(cryptonets.stencil(), X).T }
]], "lua_client.he")

local pub = he.call("smpc.keygen", tmp .. "/srv.key")
local pidfile = tmp .. "/srv.pid"
os.execute(string.format("%s tests/cli/serve/tiny_server.he %s %s/srv.key >%s/srv.out 2>&1 & echo $! >%s",
  HE, addr, tmp, tmp, pidfile))
local pid = io.open(pidfile):read("l")

T.case("serve session from lua", function()
  local c = he.call("serve.connect", addr, pub, 60)
  local params = he.call("serve.params", c)
  assert(params:match("\ninputs 64\n"), "params: " .. params)
  local ctx = he.call("serve.context", c)
  local keys = he.call("ckks.keygen", ctx, he.call("serve.steps", c))
  local s = he.call("serve.open_session", c, keys)
  local X = he.call("uniform", he.call("rng", 3), {16, 64}, 0.0, 1.0)
  local Lp = he.call("plain_logits", X)
  -- a batch encrypted with the public key; X itself (encrypted with the secret key)
  for _, input in ipairs({he.call("ckks.encrypt_rows", keys, he.call("transpose", X)), he.call("transpose", X)}) do
    local Z = he.call("serve.query", s, input)
    T.eq(he.call("len", Z), 4, "4 outputs")
    local worst, top = 0.0, 0.0
    for j = 0, 3 do
      local got = he.call("ckks.decrypt", keys, he.call("ckks.get", Z, j))
      for i = 1, 16 do
        worst = math.max(worst, math.abs(got:get(i) - Lp:get(j + 1, i)))
        top = math.max(top, math.abs(Lp:get(j + 1, i)))
      end
    end
    assert(worst < 0.01 * top, "logit error " .. worst .. " of " .. top)
  end
  he.call("serve.close", s)
end)

os.execute("kill -TERM " .. pid)
for _ = 1, 300 do
  if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then break end
  os.execute("sleep 0.1")
end
T.case("server stopped by SIGTERM", function()
  local out = io.open(tmp .. "/srv.out"):read("a")
  assert(out:match("served %d+ requests"), "server output: " .. out)
end)
