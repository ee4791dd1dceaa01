-- SMPC from Lua through the generic he.call: smpc.context takes the
-- protocol as from .he (smpc.context(3, "rep3"): three parties, no
-- dealer), and the shares' operators and functions work on both protocols
-- against plaintext (products within the truncation's ulp, comparisons
-- exact); the rep3 context's dealer sends nothing; a protocol that does
-- not exist is refused with the .he message.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "lib/check.lua")
local he = require "he"

local ulp = 1 / 65536
local function run(ctx)
  local a, b = {1.5, -2.0, 0.375, 3.25}, {4.0, 0.25, -8.0, -1.5}
  local x = he.call("smpc.share", ctx, a, 0)
  local y = he.call("smpc.share", ctx, b, 1)
  local p = he.call("smpc.reveal", x * y):totable()
  local r = he.call("smpc.reveal", he.call("smpc.relu", x - y)):totable()
  for i = 1, 4 do
    T.near(p[i], a[i] * b[i], 2 * ulp, "product " .. i)
    T.eq(r[i], math.max(a[i] - b[i], 0.0), "relu " .. i)
  end
  return he.call("smpc.stats", ctx)
end

T.case("smpc rep3 from lua", function()
  local ctx = he.call("smpc.context", 3, "rep3")
  T.truthy(tostring(ctx):find("rep3 (no dealer)", 1, true), "context: " .. tostring(ctx))
  local st = run(ctx)
  T.truthy(st:find("party 2 [0-9]+ B, dealer 0 B$"), "stats: " .. st)
end)

T.case("smpc rep3 with frac from lua", function()
  local ctx = he.call("smpc.context", 3, "rep3", 20)
  T.truthy(tostring(ctx):find("20 fractional bits", 1, true), "context: " .. tostring(ctx))
end)

T.case("smpc dealer protocol from lua", function()
  local ctx = he.call("smpc.context", 2)
  T.truthy(not tostring(ctx):find("rep3", 1, true), "context: " .. tostring(ctx))
  local st = run(ctx)
  T.truthy(not st:find("dealer 0 B", 1, true), "stats: " .. st)
end)

T.case("smpc unknown protocol from lua", function()
  T.raises(function() he.call("smpc.context", 3, "rep4") end, "smpc.context")
end)
