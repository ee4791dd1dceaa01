-- Property test of Paillier fixed-point scales (issue 9, item 1): random
-- expression trees over Paillier ciphertexts (encrypted ints and floats,
-- scalars and vectors of 3) and plaintext ints, floats, fixed<8>/fixed<16>
-- values and 1-D tensors of each: sums and differences of ciphertexts (of
-- mixed scales), plaintexts added or subtracted on either side, products by
-- plaintexts on either side, division by numbers, negation, paillier.sum.
-- Each tree is run as .he code (he.eval) and decrypted; the same tree is
-- evaluated in Lua doubles.
--
-- Error bound, tracked per node beside the value: an encrypted real and a
-- real plaintext factor are each rounded to 2^-33 (scale 2^32); a plaintext
-- added at scale 2^F is rounded to 2^-(F+1); a product by k turns an error e
-- of a value bounded by A into |k| e + (A + e) 2^-33 (k real) or |k| e (k
-- int). To that bound the check adds 2^-45 (1 + A) for the rounding of
-- the doubles (the reference's and the decoding's). Integer-only trees
-- decrypt to ints and must be exact. Fixed seed; 512-bit key through the
-- language's opt-out (keygen_insecure).
local T = dofile((arg[0]:match("(.*/)") or "./") .. "lib/check.lua")
local he = require "he"

local CASES = tonumber(os.getenv("HE_PAILLIER_CASES")) or 2000
local SEED = 20261206
local MAX_SCALE = 128 -- the module's limit on the fixed-point scale (2^128)
local R = 2.0 ^ -33   -- rounding of a real at scale 2^32

math.randomseed(SEED)
local rand = math.random

local function num(x) -- a .he float literal
  local s = string.format("%.17g", x)
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end

-- Values are arrays of 1 (scalar) or 3 (vector) Lua numbers.
local function map2(a, b, f)
  local n = math.max(#a, #b)
  local r = {}
  for i = 1, n do r[i] = f(a[#a == 1 and 1 or i], b[#b == 1 and 1 or i]) end
  return r
end
local function amax(v)
  local m = 0
  for _, x in ipairs(v) do m = math.max(m, math.abs(x)) end
  return m
end

-- A plaintext operand: {src, v, real, frac}.
local function rint() return rand(-6, 6) end
local function rreal() return (rand() * 8 - 4) end
local function rfix(frac) return rand(-4 * 2 ^ frac, 4 * 2 ^ frac) / 2 ^ frac end
local function plain(allow_vec)
  local kind = rand(1, allow_vec and 6 or 3)
  if kind == 1 then local x = rint(); return {src = tostring(x), v = {x}, real = false} end
  if kind == 2 then local x = rreal(); return {src = num(x), v = {x}, real = true} end
  if kind == 3 then
    local f = rand(0, 1) == 0 and 8 or 16
    local x = rfix(f)
    return {src = "fixed<" .. f .. ">(" .. num(x) .. ")", v = {x}, real = true}
  end
  local v, s = {}, {}
  for i = 1, 3 do
    if kind == 4 then v[i] = rint(); s[i] = tostring(v[i])
    elseif kind == 5 then v[i] = rreal(); s[i] = num(v[i])
    else v[i] = rfix(8); s[i] = num(v[i]) end
  end
  local src = "[" .. table.concat(s, ", ") .. "]"
  if kind == 6 then src = "fixed<8>(" .. src .. ")" end
  return {src = src, v = v, real = kind ~= 4}
end

-- A ciphertext node: {src, v (values), e (error bound), a (bound on |v|), scale}.
local function leaf()
  local vec = rand(0, 1) == 1
  local real = rand(0, 1) == 1
  local v, s = {}, {}
  for i = 1, vec and 3 or 1 do
    v[i] = real and rreal() or rint()
    s[i] = real and num(v[i]) or tostring(v[i])
  end
  local lit = vec and "[" .. table.concat(s, ", ") .. "]" or s[1]
  return {src = "paillier.encrypt(pub, " .. lit .. ")", v = v, e = real and R or 0, a = amax(v),
          scale = real and 32 or 0}
end

local gen
local function combine(depth)
  local op = rand(1, 8)
  if op == 1 or op == 2 then -- cipher +/- cipher
    local x, y = gen(depth - 1), gen(depth - 1)
    local sub = op == 2
    return {src = "(" .. x.src .. (sub and " - " or " + ") .. y.src .. ")",
            v = map2(x.v, y.v, function(p, q) return sub and p - q or p + q end),
            e = x.e + y.e, a = x.a + y.a, scale = math.max(x.scale, y.scale)}
  end
  local x = gen(depth - 1)
  if op == 3 or op == 4 then -- plaintext added or subtracted, either side
    local p = plain(true)
    local F = math.max(x.scale, p.real and 32 or 0)
    local sub, left = op == 4, rand(0, 1) == 1
    local src = left and "(" .. p.src .. (sub and " - " or " + ") .. x.src .. ")"
                or "(" .. x.src .. (sub and " - " or " + ") .. p.src .. ")"
    local f = function(c, q)
      if not sub then return c + q end
      return left and q - c or c - q
    end
    return {src = src, v = map2(x.v, p.v, f), e = x.e + (p.real and 2.0 ^ -(F + 1) or 0),
            a = x.a + amax(p.v), scale = F}
  end
  if op == 5 or op == 6 then -- product by a plaintext, either side
    local p = plain(true)
    local k = amax(p.v)
    if x.scale + (p.real and 32 or 0) > MAX_SCALE then p = {src = tostring(rint()), real = false}; p.v = {tonumber(p.src)}; k = amax(p.v) end
    local src = rand(0, 1) == 1 and "(" .. p.src .. " * " .. x.src .. ")" or "(" .. x.src .. " * " .. p.src .. ")"
    return {src = src, v = map2(x.v, p.v, function(c, q) return c * q end),
            e = p.real and k * x.e + (x.a + x.e) * R or k * x.e, a = k * x.a,
            scale = x.scale + (p.real and 32 or 0)}
  end
  if op == 7 and x.scale + 32 <= MAX_SCALE then -- division by a number
    local d = rand(1, 3) == 1 and rand(1, 5) * (rand(0, 1) * 2 - 1) or (rand() * 3 + 0.5)
    local ds = math.type(d) == "integer" and tostring(d) or num(d)
    return {src = "(" .. x.src .. " / " .. ds .. ")", v = map2(x.v, {d}, function(c, q) return c / q end),
            e = x.e / math.abs(d) + (x.a + x.e) * R, a = x.a / math.abs(d), scale = x.scale + 32}
  end
  if op == 8 and #x.v == 3 then -- paillier.sum
    return {src = "paillier.sum(" .. x.src .. ")", v = {x.v[1] + x.v[2] + x.v[3]}, e = 3 * x.e, a = 3 * x.a,
            scale = x.scale}
  end
  -- negation
  local r = {}
  for i, c in ipairs(x.v) do r[i] = -c end
  return {src = "(-" .. x.src .. ")", v = r, e = x.e, a = x.a, scale = x.scale}
end

gen = function(depth)
  if depth <= 0 or rand(1, 4) == 1 then return leaf() end
  return combine(depth)
end

he.run("import paillier\nlet key = paillier.keygen_insecure(512)\nlet pub = paillier.public_key(key)")

T.case("random Paillier expression trees against plaintext (" .. CASES .. " cases, seed " .. SEED .. ")", function()
  local worst = 0
  for i = 1, CASES do
    local t = gen(rand(1, 5))
    local got = he.eval("paillier.decrypt(key, " .. t.src .. ")")
    local vals = (type(got) == "number") and {got} or got:totable()
    if #vals ~= #t.v then error(string.format("case %d: %d values, want %d: %s", i, #vals, #t.v, t.src)) end
    local bound = t.e + 2.0 ^ -45 * (1 + t.a)
    for j = 1, #vals do
      local g, w = vals[j], t.v[j]
      if t.scale == 0 then
        if math.type(g) ~= "integer" or g ~= w then
          error(string.format("case %d: %s, want the int %s: %s", i, tostring(g), tostring(w), t.src))
        end
      elseif math.type(g) ~= "float" or math.abs(g - w) > bound then
        error(string.format("case %d: %s, want %.17g +- %.3g (scale 2^%d): %s", i, tostring(g), w, bound,
                            t.scale, t.src))
      end
      if t.scale > 0 then worst = math.max(worst, math.abs(g - w) / bound) end
    end
  end
  T.truthy(worst <= 1, "every error within its bound")
end)

T.case("a product past the largest scale is refused, not wrapped", function()
  T.raises(function() he.eval("paillier.encrypt(pub, 1.5) * 0.5 * 0.5 * 0.5 * 0.5") end, "scale 2^160 too large")
end)

T.case("paillier.save from Lua writes re-randomized ciphertexts", function()
  local dir = os.getenv("TMPDIR") or "."
  local c = he.eval("paillier.encrypt(pub, [0.5, -1.25]) * 0.5 + 1.0")
  local function bytes(p) local f = assert(io.open(p, "rb")); local s = f:read("a"); f:close(); return s end
  he.call("paillier.save", c, dir .. "/l1.ct")
  he.call("paillier.save", c, dir .. "/l2.ct")
  T.truthy(bytes(dir .. "/l1.ct") ~= bytes(dir .. "/l2.ct"), "two saves of one value differ")
  for _, f in ipairs({"l1", "l2"}) do
    local d = he.call("paillier.decrypt", he.global("key"), he.call("paillier.load", he.global("key"), dir .. "/" .. f .. ".ct"))
    T.same(d:totable(), {1.25, 0.375}, f)
  end
  os.remove(dir .. "/l1.ct"); os.remove(dir .. "/l2.ct")
end)
