-- Runtime types beyond tensors: per-type methods registered by binding files
-- (interp/lua/lua_fn.c, interp/lua/lua_ivhe.c), MODULE.NAME calls, secrets closed early.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "lib/check.lua")
local he = require "he"

T.case("function values have methods", function()
  he.run("fn sq(x: int) -> int { return x * x }")
  local sq = he.global("sq")
  T.eq(sq:name(), "sq")
  T.eq(sq(9), 81)
  local pr = he.global("len")
  T.eq(pr:name(), "len", "a builtin as a value")
  T.eq(pr({1, 2, 3}), 3)
  T.eq(he.fixed(1).name, nil, "fixed values do not get the fn methods")
end)

T.case("MODULE.NAME in he.call and he.global", function()
  he.run("import nn")
  T.near(he.call("nn.mse", {{1.0, 2.0}}, {{1.0, 4.0}}), 2.0, 1e-12)
  T.eq(he.global("nn.mse"):name(), "mse")
  T.raises(function() he.call("nn.no_such", 1) end, "module nn has no 'no_such'")
  T.raises(function() he.call("not_imported_mod.f", 1) end, "not_imported_mod.f")
end)

local has_ivhe = pcall(he.run, "import ivhe\nlet lua_key = ivhe.keygen(4)")
if not has_ivhe then
  T.skip("ivhe keys and ciphertexts", "import ivhe failed in this build")
else
  T.case("ivhe keys and ciphertexts", function()
    local key = he.global("lua_key")
    T.eq(key:type(), "ivhe_key")
    local c = key:encrypt{0.5, -1.0, 2.0}
    T.eq(c:type(), "cipher<ivhe>")
    T.eq(getmetatable(c).__name, "he.Value")
    T.truthy(tostring(c):find("cipher", 1, true), "printed form")
    local d = key:decrypt(c * 2 + 1):totable()
    T.near(d[1], 2.0, 1e-3); T.near(d[2], -1.0, 1e-3); T.near(d[3], 5.0, 1e-3)
    local s = c:decrypt(key):totable()
    T.near(s[3], 2.0, 1e-3, "c:decrypt(key)")
    T.truthy(math.type(c:bits()) == "integer" and c:bits() > 0, "bits")
    T.eq(key:params()[2], 1000, "default scale")
    T.near(he.call("ivhe.decrypt", key, c + c):get(1), 1.0, 1e-3, "native module function by name")
    T.raises(function() c:decrypt(c) end, "ivhe_key expected, got cipher<ivhe>")
    T.raises(function() key:decrypt(42) end)
    T.raises(function() return c < c end) -- no __lt: comparisons of ciphertexts have no result
  end)
  T.case("ivhe key closed early", function()
    local k = he.call("ivhe.keygen", 4)
    local c = k:encrypt{1.0}
    do local kk <close> = k end
    T.eq(tostring(k), "he.Value (closed)")
    T.raises(function() k:decrypt(c) end, "closed")
    T.eq(c:type(), "cipher<ivhe>", "the ciphertext lives on")
  end)
end
