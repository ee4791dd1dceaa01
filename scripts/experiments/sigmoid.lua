-- Experiment 1: polynomial approximations of the sigmoid.
--
-- Encrypted networks cannot evaluate exp(), so they use a polynomial in
-- place of sigmoid(x) = 1 / (1 + e^-x). This compares the Taylor series
-- from the Safe-AI tutorial,
--     1/2 + x/4 - x^3/48 + x^5/480 - 17 x^7/80640   (truncated at degree 3, 5, 7)
-- with least-squares fits of degree 3, 5 and 7 on [-r, r], by the maximum
-- and mean absolute error over [-r, r]. The fits and errors are computed by
-- .he code (sigmoid.he: Vandermonde matrix, normal equations by matmul,
-- Gaussian elimination, Horner on tensors) run through the Lua module.
--
--   lua5.4 scripts/experiments/sigmoid.lua [OUTDIR] [--quick]
--   build/he --lua scripts/experiments/sigmoid.lua [OUTDIR] [--quick]
-- writes OUTDIR/sigmoid.csv and OUTDIR/sigmoid.svg (default build/experiments).
local here = arg[0]:match("(.*/)") or "./"
if not package.preload.he and not os.getenv("LUA_CPATH") then package.cpath = "build/?.so;" .. package.cpath end
local he = require "he"
local plot = dofile(here .. "plot.lua")
local opt = plot.options(arg)

he.dofile(here .. "sigmoid.he")

local TAYLOR = {0.5, 0.25, 0.0, -1 / 48, 0.0, 1 / 480, 0.0, -17 / 80640}
local function taylor(d)
  local c = {}
  for k = 1, d + 1 do c[k] = TAYLOR[k] end
  return he.tensor(c)
end

local radii = opt.quick and {2, 8} or {1, 2, 3, 4, 5, 6, 7, 8}
local degrees = {3, 5, 7}
local nfit = opt.quick and 101 or 801   -- least-squares sample points
local neval = opt.quick and 201 or 4001 -- points where the error is measured

local header = {"method", "degree", "r", "max_error", "mean_error", "coefficients"}
local rows, fits = {}, {}
local series = {}
for _, method in ipairs{"taylor", "lsq"} do
  for _, d in ipairs(degrees) do
    local key = method .. d
    series[key] = {x = {}, ymax = {}, ymean = {}}
    for _, r in ipairs(radii) do
      local c = method == "taylor" and taylor(d) or he.call("lsq_fit", r + 0.0, d, nfit)
      local e = he.call("errors", c, r + 0.0, neval)
      local cs = {}
      for k, v in ipairs(c:totable()) do cs[k] = string.format("%.6g", v) end
      rows[#rows + 1] = {method, d, r, e:get(1), e:get(2), table.concat(cs, " ")}
      local s = series[key]
      s.x[#s.x + 1], s.ymax[#s.ymax + 1], s.ymean[#s.ymean + 1] = r, e:get(1), e:get(2)
      fits[key .. "@" .. r] = c
    end
  end
end

print("Sigmoid approximations: error over [-r, r] (" .. neval .. " points; fits on " .. nfit .. " points)")
local shown = {}
for i, row in ipairs(rows) do shown[i] = {row[1], row[2], row[3], row[4], row[5]} end
plot.print_table({"method", "degree", "r", "max_error", "mean_error"}, shown)
plot.write_csv(opt.dir .. "/sigmoid.csv", header, rows)

-- the plot: max and mean error against r, and the curves on [-8, 8]
local function err_panel(which, title)
  local p = {title = title, xlabel = "interval half-width r (fit and error on [-r, r])",
             ylabel = which == "ymax" and "max |p(x) - sigmoid(x)|" or "mean |p(x) - sigmoid(x)|",
             ylog = 10, legend = "bottom-right", series = {}}
  for i, d in ipairs(degrees) do
    for _, method in ipairs{"taylor", "lsq"} do
      local s = series[method .. d]
      p.series[#p.series + 1] = {
        label = (method == "taylor" and "Taylor, degree " or "least squares, degree ") .. d,
        x = s.x, y = s[which], color = plot.palette[i], dash = method == "taylor",
        marker = method == "taylor" and "square" or "circle"}
    end
  end
  return p
end

local R = radii[#radii]
local xs = {}
for k = 0, 160 do xs[#xs + 1] = -R + 2 * R * k / 160 end
local xt = he.tensor(xs)
local curves = {title = "the approximations on [-" .. R .. ", " .. R .. "]", xlabel = "x", ylabel = "value",
                ymin = -0.5, ymax = 2.0, legend = "top-left", series = {}}
local exact = {}
for k, x in ipairs(xs) do exact[k] = 1 / (1 + math.exp(-x)) end
curves.series[1] = {label = "sigmoid", x = xs, y = exact, color = "#000000", width = 3}
curves.series[2] = {label = "Taylor, degree 7", x = xs, y = he.call("horner", taylor(7), xt):totable(),
                    color = plot.palette[3], dash = true}
for i, d in ipairs(degrees) do
  curves.series[#curves.series + 1] = {label = "least squares, degree " .. d, x = xs,
    y = he.call("horner", fits["lsq" .. d .. "@" .. R], xt):totable(), color = plot.palette[i]}
end

plot.save(opt.dir .. "/sigmoid.svg", plot.figure{
  title = "Polynomial approximations of the sigmoid: Taylor series vs least-squares fits",
  panels = {err_panel("ymax", "maximum error"), err_panel("ymean", "mean error"), curves},
  note = "Taylor: 1/2 + x/4 - x^3/48 + x^5/480 - 17x^7/80640 truncated at the degree; least squares: fitted on "
    .. nfit .. " evenly spaced points of [-r, r]; errors on " .. neval .. " points.",
})
print("wrote " .. opt.dir .. "/sigmoid.csv and " .. opt.dir .. "/sigmoid.svg")
