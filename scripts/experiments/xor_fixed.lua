-- Experiment 4: XOR training under fixed-point rounding of the weights.
--
-- The encrypted XOR (experiment 2, xor.lua) holds its weights as
-- round(x * scale). This isolates that rounding: plain weights in .he
-- (xor_fixed.he, the sigmoid network of scripts/xor_plain.he) rounded to
-- multiples of 1/scale after every update, swept over the scale and the
-- learning rate against the final loss, the accuracy and the training
-- time. It shows where too coarse a grid stops training: an update smaller
-- than half a grid step rounds away.
--
--   lua5.4 scripts/experiments/xor_fixed.lua [OUTDIR] [--quick]
--   build/he --lua scripts/experiments/xor_fixed.lua [OUTDIR] [--quick]
-- writes OUTDIR/xor_fixed.csv and OUTDIR/xor_fixed.svg (default build/experiments).
local here = arg[0]:match("(.*/)") or "./"
if not package.preload.he and not os.getenv("LUA_CPATH") then package.cpath = "build/?.so;" .. package.cpath end
local he = require "he"
local plot = dofile(here .. "plot.lua")
local opt = plot.options(arg)

he.dofile(here .. "xor_fixed.he")

local rates = opt.quick and {0.3, 3.0} or {0.1, 0.3, 1.0, 3.0, 10.0}
local scales = opt.quick and {4, 256, 0} or {2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 65536, 0} -- 0: float
local steps = opt.quick and 200 or 2000
local seeds = opt.quick and {1} or {1, 2, 3, 4, 5}
local every = steps // 50

local header = {"rate", "scale", "seeds", "steps", "final_loss", "loss_min", "loss_max", "accuracy", "ms_per_run"}
local rows, by_rate, float_ref, curves = {}, {}, {}, {}
for _, rate in ipairs(rates) do
  by_rate[rate] = {scale = {}, loss = {}, ms = {}}
  for _, scale in ipairs(scales) do
    local loss, lmin, lmax, acc, ms = 0, math.huge, -math.huge, 0, {}
    for _, seed in ipairs(seeds) do
      local r = he.call("train_fixed", rate, scale + 0.0, steps, seed, every)
      local l = r:get(1)
      loss, acc = loss + l, acc + r:get(2)
      lmin, lmax = math.min(lmin, l), math.max(lmax, l)
      ms[#ms + 1] = r:get(3) * 1e3
      if seed == seeds[1] and rate == 1.0 then
        local hist = r:totable()
        curves[scale] = table.move(hist, 4, #hist, 1, {})
      end
    end
    table.sort(ms)
    local n = #seeds
    local row = {rate, scale == 0 and "float" or scale, n, steps, loss / n, lmin, lmax, acc / n, ms[(n + 1) // 2]}
    rows[#rows + 1] = row
    local b = by_rate[rate]
    if scale == 0 then float_ref[rate] = row
    else
      b.scale[#b.scale + 1], b.loss[#b.loss + 1], b.ms[#b.ms + 1] = scale, loss / n, ms[(n + 1) // 2]
    end
  end
end

print(string.format("XOR (3-4-1 sigmoid network), %d steps, weights rounded to multiples of 1/scale;"
  .. " mean over %d seed(s); time: median per run", steps, #seeds))
plot.print_table(header, rows)
plot.write_csv(opt.dir .. "/xor_fixed.csv", header, rows)

local lo_scale, hi_scale = scales[1], scales[#scales - 1]
local loss_panel = {title = "final loss", xlabel = "fixed-point scale (weights on a grid of 1/scale)",
                    ylabel = "final mean squared error", xlog = 2, ylog = 10, legend = "bottom-left", series = {}}
local time_panel = {title = "training time", xlabel = "fixed-point scale", ylabel = "ms per " .. steps .. " steps",
                    xlog = 2, ymin = 0, legend = "bottom-right", series = {}}
for i, rate in ipairs(rates) do
  local b, c = by_rate[rate], plot.palette[i]
  loss_panel.series[#loss_panel.series + 1] = {label = "rate " .. rate, x = b.scale, y = b.loss, color = c, marker = "circle"}
  time_panel.series[#time_panel.series + 1] = {label = "rate " .. rate, x = b.scale, y = b.ms, color = c, marker = "circle"}
  local f = float_ref[rate]
  if f then
    local ref = {x = {lo_scale, hi_scale}, color = c, dash = true, legend_skip = true, width = 1.2}
    loss_panel.series[#loss_panel.series + 1] = setmetatable({y = {f[5], f[5]}}, {__index = ref})
    time_panel.series[#time_panel.series + 1] = setmetatable({y = {f[9], f[9]}}, {__index = ref})
  end
end
local curve_panel = {title = "loss during training (rate 1.0, seed " .. seeds[1] .. ")", xlabel = "step",
                     ylabel = "mean squared error", ylog = 10, legend = "bottom-left", series = {}}
local k = 0
for _, scale in ipairs(scales) do
  if curves[scale] and (scale == 0 or scale == 4 or scale == 16 or scale == 64 or scale == 1024 or opt.quick) then
    k = k + 1
    local xs = {}
    for i = 1, #curves[scale] do xs[i] = math.min((i - 1) * every, steps) end
    curve_panel.series[#curve_panel.series + 1] = {label = scale == 0 and "float weights" or "scale " .. scale,
      x = xs, y = curves[scale], color = scale == 0 and "#000000" or plot.palette[k], dash = scale == 0}
  end
end
local panels = {loss_panel, time_panel}
if #curve_panel.series > 0 then panels[3] = curve_panel end
plot.save(opt.dir .. "/xor_fixed.svg", plot.figure{
  title = "XOR training with weights on a fixed-point grid: scale and learning rate",
  panels = panels,
  note = "Plain weights rounded to multiples of 1/scale after each update (the encrypted scheme's fixed-point effect);"
    .. " dashed: float weights, no rounding. Mean of " .. #seeds .. " seed(s).",
})
print("wrote " .. opt.dir .. "/xor_fixed.csv and " .. opt.dir .. "/xor_fixed.svg")
