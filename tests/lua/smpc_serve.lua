-- The SMPC service from Lua through the generic he.call: a cluster of 3
-- parties under rep3 (tests/cli/smpc_serve/server.he as processes on
-- 127.0.0.1, the owner's shares dealt by owner.he), queried from Lua: the
-- logits equal the plaintext network's, the class is their argmax; the
-- cluster stops after its 2 requests.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "lib/check.lua")
local he = require "he"

local build = (os.getenv("LUA_CPATH") or "build/?.so"):match("([^;]*)/%?%.so") or "build"
local HE = build .. "/he"
local tmp = T.tmppath("smpc_serve")
assert(os.execute("mkdir -p '" .. tmp .. "'"))
he.call("smpc.local_parties", tmp, 3)
he.call("smpc_serve.local_cluster", tmp)
assert(os.execute(string.format("%s tests/cli/smpc_serve/owner.he %s rep3 >%s/owner.out 2>&1", HE, tmp, tmp)))
for i = 0, 2 do
  os.execute(string.format("%s --party %d --parties %s/parties tests/cli/smpc_serve/server.he %s rep3 2 >%s/p%d.out 2>&1 &",
    HE, i, tmp, tmp, tmp, i))
end

T.case("smpc service from lua", function()
  local c = he.call("smpc_serve.connect", tmp .. "/cluster", 30)
  local params = he.call("smpc_serve.params", c)
  assert(params:match("\nprotocol rep3\n") and params:match("\ninput 1 8\n"), "params: " .. params)
  local x = he.call("uniform", he.call("rng", 11), {1, 8}, -1.0, 1.0)
  local z = he.call("smpc_serve.query", c, x)
  local W1, B1, W2 = he.call("load_npy", tmp .. "/w1.npy"), he.call("load_npy", tmp .. "/b1.npy"), he.call("load_npy", tmp .. "/w2.npy")
  he.run("fn plain(x: float[?, ?], W1: float[?, ?], B1: float[?, ?], W2: float[?, ?]) -> float[?, ?] { return relu(x @ W1 + B1) @ W2 }", "plain.he")
  local p = he.call("plain", x, W1, B1, W2)
  local best, worst = 1, 0.0
  for j = 1, 3 do
    worst = math.max(worst, math.abs(z:get(1, j) - p:get(1, j)))
    if z:get(1, j) > z:get(1, best) then best = j end
  end
  assert(worst < 1e-3, "logit error " .. worst)
  local k = he.call("smpc_serve.query", c, x, "class")
  T.eq(k:get(1), best - 1, "the class")
end)

local stopped = false
for _ = 1, 300 do
  local f = io.open(tmp .. "/p0.out")
  local out = f and f:read("a") or ""
  if f then f:close() end
  if out:match("answered 2") then stopped = true break end
  os.execute("sleep 0.1")
end
T.case("cluster stops after its requests", function() assert(stopped, "party 0 did not stop") end)
os.execute("rm -rf '" .. tmp .. "'")
