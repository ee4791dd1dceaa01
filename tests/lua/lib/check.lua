-- Shared helpers of the Lua tests: each case prints one line
--   ok NAME | not ok NAME: why | skip NAME: why
-- Load with: local T = dofile((arg[0]:match("(.*/)") or "./") .. "lib/check.lua")
-- Finds the module: under `he --lua` it is preloaded; with lua5.4 it comes
-- from LUA_CPATH (tests/run.sh sets it), else from build/he.so.
if not package.preload.he and not os.getenv("LUA_CPATH") then
  package.cpath = "build/?.so;" .. package.cpath
end

local T = {}

function T.case(name, fn)
  local ok, err = pcall(fn)
  if ok then
    print("ok " .. name)
  else
    print("not ok " .. name .. ": " .. tostring(err):gsub("\n", " | "))
  end
end

function T.skip(name, why) print("skip " .. name .. ": " .. why) end

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v) .. " (" .. (math.type(v) or type(v)) .. ")"
end

-- Equal values of the same Lua type (integer vs float matters).
function T.eq(got, want, what)
  if got ~= want or math.type(got) ~= math.type(want) then
    error((what or "value") .. ": expected " .. show(want) .. ", got " .. show(got), 2)
  end
end

function T.near(got, want, tol, what)
  if type(got) ~= "number" or math.abs(got - want) > tol then
    error((what or "value") .. ": expected " .. tostring(want) .. " +- " .. tol .. ", got " .. tostring(got), 2)
  end
end

function T.truthy(v, what)
  if not v then error((what or "condition") .. " does not hold", 2) end
end

-- fn must raise an error whose message contains every plain string given.
function T.raises(fn, ...)
  local ok, err = pcall(fn)
  if ok then error("expected an error, none was raised", 2) end
  err = tostring(err)
  for _, want in ipairs({...}) do
    if not err:find(want, 1, true) then
      error("error message lacks " .. string.format("%q", want) .. ": " .. err, 2)
    end
  end
  return err
end

-- Deep comparison of nested tables of numbers/booleans.
function T.same(got, want, what, path)
  path = path or (what or "table")
  if type(want) ~= "table" then
    if got ~= want or math.type(got) ~= math.type(want) then
      error(path .. ": expected " .. show(want) .. ", got " .. show(got), 2)
    end
    return
  end
  if type(got) ~= "table" then error(path .. ": expected a table, got " .. show(got), 2) end
  if #got ~= #want then error(path .. ": expected " .. #want .. " elements, got " .. #got, 2) end
  for i = 1, #want do T.same(got[i], want[i], what, path .. "[" .. i .. "]") end
end

-- A path for a test's file or folder NAME inside $TMPDIR (tests/run.sh gives
-- every test a private one), so two runs of the suite never collide.
function T.tmppath(name)
  local d = os.getenv("TMPDIR")
  if not d or d == "" then
    d = os.tmpname()
    os.remove(d)
    assert(os.execute("mkdir -m 700 '" .. d .. "'"))
  end
  return d .. "/" .. name
end

return T
