-- Experiment 2: the XOR network trained on encrypted weights, swept over
-- the scheme's fixed-point scale and the learning rate.
--
-- Integer Vector HE holds a value x as round(x * scale) and divides by the
-- scale after every product of ciphertexts. This trains scripts/xor.he's
-- network (encrypted weights, plain data, Taylor sigmoid, the stdlib's
-- nn.net2_step) in .he (xor.he) for a fixed number of epochs for each scale
-- and learning rate and reports the final loss (sum of |output error| over
-- the 4 rows, decrypted), the accuracy, the first epoch below a loss
-- target, and the training time (encrypted steps only). The scheme is for
-- learning, not protection: the module warns once on stderr. Keys and
-- encryption noise come from the system's CSPRNG, so the figures vary a
-- little from run to run (a seed fixes only the initial weights).
--
--   lua5.4 scripts/experiments/xor.lua [OUTDIR] [--quick]
--   build/he --lua scripts/experiments/xor.lua [OUTDIR] [--quick]
-- writes OUTDIR/xor.csv and OUTDIR/xor.svg (default build/experiments).
local here = arg[0]:match("(.*/)") or "./"
if not package.preload.he and not os.getenv("LUA_CPATH") then package.cpath = "build/?.so;" .. package.cpath end
local he = require "he"
local plot = dofile(here .. "plot.lua")
local opt = plot.options(arg)

he.dofile(here .. "xor.he")

local scales = opt.quick and {100, 1000} or {10, 100, 1000, 10000, 100000, 1000000}
local rates = opt.quick and {0.5} or {0.1, 0.25, 0.5, 0.75, 1.0}
local seeds = opt.quick and {2} or {1, 2, 3}
local epochs = opt.quick and 20 or 800
local target = 0.1

local header = {"scale", "rate", "runs", "epochs", "final_loss", "loss_min", "loss_max", "accuracy",
                "epochs_to_target", "converged_seeds", "train_seconds", "ms_per_epoch", "status"}
local rows, by_rate, curves = {}, {}, {}
for _, rate in ipairs(rates) do
  by_rate[rate] = {x = {}, loss = {}, reach = {}, reach_x = {}, ms = {}}
  for _, scale in ipairs(scales) do
    local loss, lmin, lmax, acc, secs, reach, nreach = 0, math.huge, -math.huge, 0, 0, 0, 0
    local n, nfail, why = 0, 0, nil
    for _, seed in ipairs(seeds) do
      local ok, r = pcall(he.call, "train_enc", scale, rate, epochs, seed, target)
      if not ok then -- the scheme's limits (e.g. entries outgrowing l bits): recorded, not fatal
        nfail = nfail + 1
        why = why or string.format("seed %d: %s", seed, (tostring(r):match("runtime error: ([^\n]*)") or tostring(r)))
      else
        n = n + 1
        local l = r:get(1)
        loss, acc, secs = loss + l, acc + r:get(2), secs + r:get(3)
        lmin, lmax = math.min(lmin, l), math.max(lmax, l)
        if r:get(4) > 0 then reach, nreach = reach + r:get(4), nreach + 1 end
        if rate == 0.5 and not curves[scale] then curves[scale] = table.move(r:totable(), 5, 4 + epochs, 1, {}) end
      end
    end
    local status = nfail == 0 and "ok" or string.format("%d/%d failed (%s)", nfail, #seeds, why)
    local row = {scale, rate, n, epochs, "", "", "", "", "", "", "", "", status}
    if n > 0 then
      row = {scale, rate, n, epochs, loss / n, lmin, lmax, acc / n, nreach > 0 and reach / nreach or "", nreach,
             secs / n, secs / n / epochs * 1e3, status}
      local b = by_rate[rate]
      b.x[#b.x + 1], b.loss[#b.loss + 1], b.ms[#b.ms + 1] = scale, loss / n, row[12]
      if nreach == n then b.reach_x[#b.reach_x + 1], b.reach[#b.reach + 1] = scale, reach / n end
    end
    rows[#rows + 1] = row
  end
end

print(string.format("Encrypted XOR (IVHE, 3-4-1, Taylor sigmoid): %d epochs, mean over %d seed(s);"
  .. " loss = sum |error| over the 4 rows; target %g", epochs, #seeds, target))
local shown = {}
for i, r in ipairs(rows) do shown[i] = table.move(r, 1, 12, 1, {}); shown[i][13] = r[13]:match("^[^(]*"):gsub(" $", "") end
plot.print_table(header, shown)
plot.write_csv(opt.dir .. "/xor.csv", header, rows)

local lp = {title = "final loss after " .. epochs .. " epochs", xlabel = "fixed-point scale of the key",
            ylabel = "sum of |output error| (4 rows)", xlog = 10, ymin = 0, legend = "top-right", series = {}}
local ep = {title = "epochs until loss < " .. target, xlabel = "fixed-point scale of the key",
            ylabel = "epochs (all seeds converged)", xlog = 10, ymin = 0, legend = "top-right", series = {}}
local tp = {title = "training time", xlabel = "fixed-point scale of the key", ylabel = "ms per epoch (4 encrypted steps)",
            xlog = 10, ymin = 0, legend = "bottom-right", series = {}}
local hi = 0
for _, rate in ipairs(rates) do for _, l in ipairs(by_rate[rate].loss) do hi = math.max(hi, l) end end
lp.ymax = math.max(0.5, hi * 2) -- the upper half for the legend
local most = 0
for _, rate in ipairs(rates) do for _, e in ipairs(by_rate[rate].reach) do most = math.max(most, e) end end
ep.ymax = math.max(10, most * 1.8)
for i, rate in ipairs(rates) do
  local b, c = by_rate[rate], plot.palette[i]
  local label = "rate " .. rate .. (#b.x == 0 and " (every run failed)" or "")
  lp.series[#lp.series + 1] = {label = label, x = b.x, y = b.loss, color = c, marker = "circle"}
  ep.series[#ep.series + 1] = {label = label, x = b.reach_x, y = b.reach, color = c, marker = "circle"}
  tp.series[#tp.series + 1] = {label = label, x = b.x, y = b.ms, color = c, marker = "circle"}
end
local cp = {title = "loss per epoch (rate 0.5)", xlabel = "epoch (first seed that trained)",
            ylabel = "sum of |output error|", ymin = 0, ymax = 3, legend = "bottom-left", series = {}}
for i, scale in ipairs(scales) do
  if curves[scale] then
    local xs = {}
    for e = 1, #curves[scale] do xs[e] = e end
    cp.series[#cp.series + 1] = {label = "scale " .. scale, x = xs, y = curves[scale], color = plot.palette[i], width = 1.5}
  end
end
local panels = {lp, ep, tp}
if #cp.series > 0 then panels[4] = cp end
plot.save(opt.dir .. "/xor.svg", plot.figure{
  title = "XOR with encrypted weights (Integer Vector HE): fixed-point scale and learning rate",
  panel_width = 400, panels = panels,
  note = "Mean over the seeds that trained (of " .. #seeds .. "); a seed fails when the weights diverge until ciphertext entries"
    .. " outgrow the key's l bits (status column of xor.csv). Middle: only where every run reached the target.",

})
print("wrote " .. opt.dir .. "/xor.csv and " .. opt.dir .. "/xor.svg")
