-- Experiment 5: CKKS parameters planned from the precision asked for.
--
-- No ring size, scale, depth or rotation list is chosen here: for each
-- precision (an rms error of 2^-bits), ckks.plan runs the CryptoNets
-- sigmoid 0.5 + 0.197x - 0.004x^3 on planning ciphertexts of 256 values in
-- [-4, 4] and picks the smallest 128-bit-secure ring and scale for it;
-- ckks.keygen(plan) makes the keys. Then the function runs encrypted on
-- random inputs and the measured rms error is set beside the predicted one.
--
--   lua5.4 scripts/experiments/ckks_plan.lua [OUTDIR] [--quick]
--   build/he --lua scripts/experiments/ckks_plan.lua [OUTDIR] [--quick]
-- writes OUTDIR/ckks_plan.csv and OUTDIR/ckks_plan.svg (default build/experiments).
local here = arg[0]:match("(.*/)") or "./"
if not package.preload.he and not os.getenv("LUA_CPATH") then package.cpath = "build/?.so;" .. package.cpath end
local he = require "he"
local plot = dofile(here .. "plot.lua")
local opt = plot.options(arg)

he.dofile(here .. "ckks_plan.he")

local n = 256
local bits = opt.quick and {12, 24} or {8, 12, 16, 20, 24, 28, 32, 36}
local runs = opt.quick and 2 or 8

local header = {"bits_asked", "asked_error", "N", "scale_bits", "depth", "predicted_error", "measured_error",
                "ratio", "ms_per_call"}
local rows = {}
local xs, asked, pred, meas = {}, {}, {}, {}
for i, b in ipairs(bits) do
  local p = he.call("plan_for", n, b)
  local m = he.call("measure", p, n, runs, 1000 + i):totable()
  local target = 2.0 ^ -b
  rows[#rows + 1] = {b, target, math.floor(m[1]), math.floor(m[2] + 0.5), math.floor(m[3]), m[4], m[5], m[5] / m[4],
                     m[6] * 1000}
  xs[#xs + 1], asked[#asked + 1], pred[#pred + 1], meas[#meas + 1] = b, target, m[4], m[5]
end

print("CKKS planned for a precision: sigmoid3 on " .. n .. " values in [-4, 4], " .. runs .. " encryptions each")
plot.print_table(header, rows)
plot.write_csv(opt.dir .. "/ckks_plan.csv", header, rows)

local p = {title = "rms error of the result", xlabel = "bits asked (rms error 2^-bits)", ylabel = "rms error",
           ylog = 10, legend = "top-right", series = {
             {label = "asked", x = xs, y = asked, color = "#000000", dash = true},
             {label = "predicted by the plan", x = xs, y = pred, color = plot.palette[1], marker = "square"},
             {label = "measured", x = xs, y = meas, color = plot.palette[2], marker = "circle"}}}
local scales = {}
for i, r in ipairs(rows) do scales[i] = r[4] end
local q = {title = "the planned scale", xlabel = "bits asked", ylabel = "log2 of the scale", legend = "top-left",
           series = {{label = "scale bits", x = xs, y = scales, color = plot.palette[3], marker = "circle"}}}
plot.save(opt.dir .. "/ckks_plan.svg", plot.figure{
  title = "CKKS parameters planned from the precision asked for",
  panels = {p, q},
  note = "ckks.plan(sigmoid3, ckks.input(" .. n .. ", 4.0), ckks.precision(bits)); keys from ckks.keygen(plan); "
    .. runs .. " encryptions per point.",
})
print("wrote " .. opt.dir .. "/ckks_plan.csv and " .. opt.dir .. "/ckks_plan.svg")
