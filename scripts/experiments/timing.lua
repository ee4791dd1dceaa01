-- Experiment 3: how the cost of an operation grows with its input size.
--
-- Times n x n float matrix products (the runtime's kernel), element-wise
-- additions, and the same product written as three nested loops in .he
-- (the VM's own speed), for n = 4 ... 512, and fits the growth exponent
-- (the slope on a log-log plot: about 3 for a product, 2 for an addition).
-- Each point: the best of 5 batches, each batch repeating the operation
-- until it takes at least 2 ms (timing.he measures with clock()).
--
--   lua5.4 scripts/experiments/timing.lua [OUTDIR] [--quick]
--   build/he --lua scripts/experiments/timing.lua [OUTDIR] [--quick]
-- writes OUTDIR/timing.csv and OUTDIR/timing.svg (default build/experiments).
local here = arg[0]:match("(.*/)") or "./"
if not package.preload.he and not os.getenv("LUA_CPATH") then package.cpath = "build/?.so;" .. package.cpath end
local he = require "he"
local plot = dofile(here .. "plot.lua")
local opt = plot.options(arg)

he.dofile(here .. "timing.he")

local min_batch = opt.quick and 2e-4 or 2e-3
local batches = opt.quick and 2 or 5
local ops = {
  {name = "matmul", fn = "time_matmul", label = "a @ b (runtime kernel)", max = opt.quick and 32 or 512, flops = function(n) return 2 * n ^ 3 end},
  {name = "add", fn = "time_add", label = "a + b (element-wise)", max = opt.quick and 32 or 512, flops = function(n) return n ^ 2 end},
  {name = "matmul_loops", fn = "time_loops", label = "a @ b as .he loops (VM)", max = opt.quick and 16 or 128, flops = function(n) return 2 * n ^ 3 end},
}

-- seconds per operation: the best of `batches` timed batches of k operations
local function measure(fn, n)
  local k = 1
  while true do
    local t = he.call(fn, n, k)
    if t >= min_batch or k >= 1 << 24 then break end
    k = math.max(k * 2, math.ceil(k * min_batch / math.max(t, 1e-9)))
  end
  local best = math.huge
  for _ = 1, batches do best = math.min(best, he.call(fn, n, k) / k) end
  return best, k
end

for _, n in ipairs{3, 8} do
  assert(he.call("loops_agree", n), "the .he loops and the kernel disagree at n = " .. n)
end

local header = {"op", "n", "seconds", "reps_per_batch", "gflops"}
local rows, series = {}, {}
for _, op in ipairs(ops) do
  local s = {x = {}, y = {}, gf = {}}
  local n = 4
  while n <= op.max do
    local t, k = measure(op.fn, n)
    local gf = op.flops(n) / t / 1e9
    rows[#rows + 1] = {op.name, n, t, k, gf}
    s.x[#s.x + 1], s.y[#s.y + 1], s.gf[#s.gf + 1] = n, t, gf
    n = n * 2
  end
  -- the growth exponent over the larger sizes (n >= 32, or the upper half)
  local fx, fy = {}, {}
  local from = math.min(32, s.x[#s.x // 2 + 1])
  for i = 1, #s.x do if s.x[i] >= from then fx[#fx + 1], fy[#fy + 1] = s.x[i], s.y[i] end end
  op.slope, op.from, op.series = plot.loglog_slope(fx, fy), from, s
end

print("Seconds per operation on n x n float tensors (best of " .. batches .. " batches)")
plot.print_table(header, rows)
for _, op in ipairs(ops) do
  print(string.format("growth exponent of %s for n >= %d: %.2f", op.name, op.from, op.slope))
end
plot.write_csv(opt.dir .. "/timing.csv", header, rows)

local tp = {title = "time per operation", xlabel = "n (n x n float tensors)", ylabel = "seconds per operation",
            xlog = 2, ylog = 10, legend = "top-left", series = {}}
local gp = {title = "throughput", xlabel = "n", ylabel = "GFLOP/s (additions: Gelem/s)", xlog = 2, ymin = 0,
            legend = "top-right", series = {}}
local top = 0
for _, op in ipairs(ops) do for _, g in ipairs(op.series.gf) do top = math.max(top, g) end end
gp.ymax = math.ceil(top * 1.45) -- room for the legend above the curves
local slowest = 0
for _, op in ipairs(ops) do for _, t in ipairs(op.series.y) do slowest = math.max(slowest, t) end end
tp.ymax = 10 ^ math.ceil(math.log(slowest, 10) + 3) -- three empty decades for the legend
for i, op in ipairs(ops) do
  local s = op.series
  tp.series[#tp.series + 1] = {label = string.format("%s: slope %.2f", op.label, op.slope), x = s.x, y = s.y,
                               color = plot.palette[i], marker = "circle"}
  gp.series[#gp.series + 1] = {label = op.label, x = s.x, y = s.gf, color = plot.palette[i], marker = "circle"}
end
-- reference slopes through the last kernel point
local m = ops[1].series
local n1, t1 = m.x[#m.x], m.y[#m.y]
tp.series[#tp.series + 1] = {label = "n^3 and n^2 references", x = {m.x[1], n1}, y = {t1 * (m.x[1] / n1) ^ 3, t1},
                             color = "#999999", dash = true, width = 1}
local a = ops[2].series
local n2, t2 = a.x[#a.x], a.y[#a.y]
tp.series[#tp.series + 1] = {x = {a.x[1], n2}, y = {t2 * (a.x[1] / n2) ^ 2, t2}, color = "#999999", dash = true,
                             width = 1, legend_skip = true}
plot.save(opt.dir .. "/timing.svg", plot.figure{
  title = "Cost against input size: n x n matrix product and addition",
  panels = {tp, gp},
  note = "Slopes: least-squares fit of log(time) on log(n) for n >= 32 (the growth exponent). Best of "
    .. batches .. " batches of at least " .. (min_batch * 1e3) .. " ms each.",
})
print("wrote " .. opt.dir .. "/timing.csv and " .. opt.dir .. "/timing.svg")
