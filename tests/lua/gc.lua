-- Garbage collection: every runtime object owned by a userdata is released
-- by __gc (the SANITIZE=1 run checks that nothing leaks), including on the
-- paths where a Lua error interrupts a call.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "lib/check.lua")
local he = require "he"

he.run("fn mk(n: int) -> float[?] { return zeros([n]) + 1.0 }\nfn f(x: int) -> int { return x }")

local function settle()
  collectgarbage("collect"); collectgarbage("collect")
  return collectgarbage("count")
end

T.case("many tensors", function()
  local base = settle()
  for i = 1, 20000 do
    local t = he.tensor{{i, 2}, {3, 4}}
    local u = (t + 1) * 2.0
    local _ = u:matmul(t):sum()
  end
  local after = settle()
  T.truthy(after - base < 256, "Lua heap grew by " .. (after - base) .. " KiB")
end)
T.case("results of calls", function()
  local base = settle()
  for i = 1, 5000 do
    local t = he.call("mk", 8)
    local s = he.call("str", i)
    local fx = he.fixed(i / 7)
    local g = he.global("f")
    local _ = g(i) + #t + #s + fx:tonumber()
  end
  T.truthy(settle() - base < 256, "Lua heap grew")
end)
T.case("errors do not leak", function()
  for _ = 1, 2000 do
    pcall(he.tensor, {{1, 2}, {3}})             -- ragged, after the shape scan
    pcall(he.tensor, {1.5, "x"})                -- bad element
    pcall(he.tensor, {1, 2.5}, "fixed<62>")     -- fixed overflow while filling
    pcall(he.call, "f", "not an int")           -- argument converted, then refused
    pcall(he.call, "mk", -1)                    -- runtime error inside .he
    pcall(he.run, "let broken: int = 1.5")      -- compile error
    pcall(he.eval, "1 / 0")
    pcall(function() return he.tensor{1, 2} + he.tensor{1, 2, 3} end)
  end
  T.eq(he.call("f", 3), 3, "the VM still works")
end)
T.case("close releases early", function()
  local t = he.tensor{1, 2, 3}
  do local c <close> = t end
  T.eq(tostring(t), "he.Tensor (closed)")
  local shared = he.tensor{5}
  local r = he.call("f", 1) -- unrelated call
  do local c <close> = shared end
  T.eq(r, 1)
end)
T.case("values alive at exit", function()
  -- freed by lua_close's finalizers after the script ends
  _G.keep = {he.tensor{1, 2}, he.fixed(2), he.global("mk"), he.call("mk", 3)}
  T.eq(#_G.keep, 4)
end)
