-- The experiments (scripts/experiments/*.lua) run end to end on small
-- sizes (--quick) and write a well-formed CSV and SVG each.
local T = dofile((arg[0]:match("(.*/)") or "./") .. "lib/check.lua")
local he = require "he"

local root = (arg[0]:match("(.*/)") or "./") .. "../../"
local exp_dir = root .. "scripts/experiments/"
local out = T.tmppath("experiments")

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Runs one experiment in this Lua state with its printing captured.
local function run(name)
  local saved_arg, saved_print = arg, print
  local lines = {}
  arg = {[0] = exp_dir .. name .. ".lua", out, "--quick"}
  print = function(...)
    local t = table.pack(...)
    for i = 1, t.n do t[i] = tostring(t[i]) end
    lines[#lines + 1] = table.concat(t, "\t")
  end
  local ok, err = pcall(dofile, exp_dir .. name .. ".lua")
  arg, print = saved_arg, saved_print
  if not ok then error(err, 0) end
  return table.concat(lines, "\n")
end

local function csv_rows(path, header)
  local s = read(path)
  if not s then error("no " .. path, 2) end
  local rows = {}
  for line in s:gmatch("[^\n]+") do rows[#rows + 1] = line end
  if rows[1] ~= header then error(path .. ": header " .. tostring(rows[1]), 2) end
  table.remove(rows, 1)
  if #rows == 0 then error(path .. ": no data rows", 2) end
  local parsed = {}
  for i, line in ipairs(rows) do
    local cells, pos = {}, 1
    while pos <= #line + 1 do
      if line:sub(pos, pos) == '"' then -- quoted, "" inside
        local j, cell = pos + 1, {}
        while true do
          local q = assert(line:find('"', j, true), "unterminated quote")
          cell[#cell + 1] = line:sub(j, q - 1)
          if line:sub(q + 1, q + 1) == '"' then cell[#cell + 1] = '"'; j = q + 2 else pos = q + 2; break end
        end
        cells[#cells + 1] = table.concat(cell)
      else
        local c = line:find(",", pos, true) or #line + 1
        cells[#cells + 1] = line:sub(pos, c - 1)
        pos = c + 1
      end
    end
    parsed[i] = cells
  end
  return parsed
end

local function check_svg(path, title)
  local s = read(path)
  if not s then error("no " .. path, 2) end
  if not s:match("^<svg xmlns=\"http://www.w3.org/2000/svg\"") then error(path .. ": not an SVG", 2) end
  if not s:match("</svg>\n$") then error(path .. ": truncated", 2) end
  if not s:find("<polyline", 1, true) then error(path .. ": no data lines", 2) end
  if not s:find(title, 1, true) then error(path .. ": no title " .. title, 2) end
  -- every element opened is closed: count <text ...>...</text>
  local open, close = select(2, s:gsub("<text ", "")), select(2, s:gsub("</text>", ""))
  if open ~= close then error(path .. ": unbalanced text elements", 2) end
end

T.case("plot helpers", function()
  local plot = dofile(exp_dir .. "plot.lua")
  T.near(plot.loglog_slope({1, 2, 4, 8}, {3, 24, 192, 1536}), 3.0, 1e-12, "slope of 3 n^3")
  assert(os.execute("mkdir -p " .. out))
  plot.write_csv(out .. "/t.csv", {"a", "b"}, {{1, 2.5}, {"x,y", 'q"'}})
  T.eq(read(out .. "/t.csv"), 'a,b\n1,2.5\n"x,y","q"""\n', "CSV quoting")
  local svg = plot.figure{title = "T <&>", panels = {{xlog = 10, ylog = 10, series = {{label = "s", x = {1, 10, 100}, y = {1, 0, 1e3}}}}}}
  T.truthy(svg:find("T &lt;&amp;&gt;", 1, true), "title escaped")
  T.truthy(svg:find("<polyline", 1, true), "a line")
  os.remove(out .. "/t.csv")
end)

T.case("sigmoid experiment", function()
  local text = run("sigmoid")
  T.truthy(text:find("wrote ", 1, true), "reports its files")
  local rows = csv_rows(out .. "/sigmoid.csv", "method,degree,r,max_error,mean_error,coefficients")
  T.eq(#rows, 2 * 3 * 2, "methods x degrees x intervals")
  local err = {}
  for _, r in ipairs(rows) do err[r[1] .. r[2] .. "@" .. r[3]] = tonumber(r[4]) end
  -- the Taylor series is good near 0 and useless on [-8, 8]; the fits are not
  T.truthy(err["taylor7@2"] < 0.01, "Taylor degree 7 on [-2, 2]")
  T.truthy(err["taylor7@8"] > 10, "Taylor degree 7 on [-8, 8]")
  T.truthy(err["lsq7@8"] < 0.05, "least squares degree 7 on [-8, 8]: " .. err["lsq7@8"])
  T.truthy(err["lsq3@8"] > err["lsq5@8"] and err["lsq5@8"] > err["lsq7@8"], "error falls with the degree")
  check_svg(out .. "/sigmoid.svg", "Polynomial approximations of the sigmoid")
end)

T.case("xor experiment (encrypted)", function()
  local text = run("xor")
  T.truthy(text:find("wrote ", 1, true), "reports its files")
  local rows = csv_rows(out .. "/xor.csv", "scale,rate,runs,epochs,final_loss,loss_min,loss_max,accuracy,"
    .. "epochs_to_target,converged_seeds,train_seconds,ms_per_epoch,status")
  T.eq(#rows, 2, "scales x rates")
  for _, r in ipairs(rows) do
    if r[13] == "ok" then
      T.truthy(tonumber(r[12]) > 0, "a time per epoch")
      local l = tonumber(r[5])
      T.truthy(l >= 0 and l < 10, "a loss: " .. r[5])
    end
  end
  check_svg(out .. "/xor.svg", "XOR with encrypted weights")
end)

T.case("timing experiment", function()
  local text = run("timing")
  T.truthy(text:find("growth exponent of matmul", 1, true), "reports the exponent")
  local rows = csv_rows(out .. "/timing.csv", "op,n,seconds,reps_per_batch,gflops")
  local ops = {}
  for _, r in ipairs(rows) do
    ops[r[1]] = true
    T.truthy(tonumber(r[3]) > 0, "a positive time")
  end
  T.truthy(ops.matmul and ops.add and ops.matmul_loops, "three operations")
  check_svg(out .. "/timing.svg", "Cost against input size")
end)

T.case("xor_fixed experiment", function()
  run("xor_fixed")
  local rows = csv_rows(out .. "/xor_fixed.csv", "rate,scale,seeds,steps,final_loss,loss_min,loss_max,accuracy,ms_per_run")
  T.eq(#rows, 2 * 3, "rates x scales")
  local loss = {}
  for _, r in ipairs(rows) do loss[r[1] .. "/" .. r[2]] = tonumber(r[5]) end
  -- a grid of 1/4 stops training; float weights train
  T.truthy(loss["3/4"] > loss["3/float"], "coarse grid trains worse")
  check_svg(out .. "/xor_fixed.svg", "XOR training with weights on a fixed-point grid")
end)

T.case("ckks_plan experiment (planned parameters)", function()
  local text = run("ckks_plan")
  T.truthy(text:find("wrote ", 1, true), "reports its files")
  local rows = csv_rows(out .. "/ckks_plan.csv",
    "bits_asked,asked_error,N,scale_bits,depth,predicted_error,measured_error,ratio,ms_per_call")
  T.eq(#rows, 2, "two precisions")
  for _, r in ipairs(rows) do
    T.truthy(tonumber(r[6]) <= tonumber(r[2]), "the plan meets the precision asked: " .. r[6] .. " <= " .. r[2])
    local ratio = tonumber(r[8])
    T.truthy(ratio > 0.5 and ratio < 2, "measured / predicted within a factor of 2: " .. r[8])
    T.eq(tonumber(r[5]), 2, "depth 2")
  end
  T.truthy(tonumber(rows[2][4]) > tonumber(rows[1][4]), "more bits asked, a larger scale")
  check_svg(out .. "/ckks_plan.svg", "CKKS parameters planned from the precision asked for")
end)

for _, f in ipairs{"sigmoid", "xor", "timing", "xor_fixed", "ckks_plan"} do
  os.remove(out .. "/" .. f .. ".csv")
  os.remove(out .. "/" .. f .. ".svg")
end
os.remove(out)
