-- plot.lua: CSV and SVG output for the experiments (plain Lua 5.4, no
-- dependencies).
--
--   local plot = dofile(dir .. "plot.lua")
--   plot.write_csv(path, {"n", "ms"}, {{8, 0.01}, {16, 0.05}})
--   plot.save(path, plot.figure{
--     title = "...",
--     panels = {{
--       title = "...", xlabel = "...", ylabel = "...",
--       xlog = 10 | 2 | nil, ylog = 10 | nil,         -- logarithmic axes
--       xmin, xmax, ymin, ymax = ...,                  -- optional limits
--       legend = "top-left" | "top-right" | "bottom-left" | "bottom-right" | false,
--       series = {{label = "...", x = {...}, y = {...},
--                  color = "#rrggbb", dash = true, marker = "circle" | "square" | false,
--                  width = 2, line = false (markers only), legend_skip = true}},
--     }},
--   })
-- Points with a nil, NaN or infinite coordinate (or <= 0 on a log axis)
-- are skipped and break the line.
local plot = {}

plot.palette = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"}

local FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'

local function esc(s)
  return (tostring(s):gsub("[&<>\"]", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;"}))
end

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

-- Shortest readable label for a tick value.
local function fmt(v)
  if v == 0 then return "0" end
  local a = math.abs(v)
  if a >= 1e5 or a < 1e-3 then
    local s = string.format("%.1e", v):gsub("%.0e", "e"):gsub("e%+?(%-?)0*(%d)", "e%1%2")
    return s
  end
  local s = string.format("%.6f", v):gsub("0+$", ""):gsub("%.$", "")
  return s
end

-- --- CSV ---------------------------------------------------------------------------
local function csv_field(v)
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.10g", v)
  end
  v = tostring(v)
  if v:find('[,"\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end

function plot.write_csv(path, header, rows)
  local f = assert(io.open(path, "w"))
  local cells = {}
  for i, h in ipairs(header) do cells[i] = csv_field(h) end
  f:write(table.concat(cells, ","), "\n")
  for _, row in ipairs(rows) do
    cells = {}
    for i = 1, #header do cells[i] = csv_field(row[i] == nil and "" or row[i]) end
    f:write(table.concat(cells, ","), "\n")
  end
  f:close()
end

-- Prints rows as an aligned text table.
function plot.print_table(header, rows)
  local w, text = {}, {}
  for i, h in ipairs(header) do w[i] = #h end
  for r, row in ipairs(rows) do
    text[r] = {}
    for i = 1, #header do
      local v = row[i]
      local s = type(v) == "number" and math.type(v) == "float" and string.format("%.4g", v) or tostring(v)
      text[r][i] = s
      if #s > w[i] then w[i] = #s end
    end
  end
  local function line(cells)
    local out = {}
    for i, c in ipairs(cells) do out[i] = string.rep(" ", w[i] - #c) .. c end
    print(table.concat(out, "  "))
  end
  line(header)
  local rule = {}
  for i = 1, #header do rule[i] = string.rep("-", w[i]) end
  line(rule)
  for _, cells in ipairs(text) do line(cells) end
end

-- --- axes ---------------------------------------------------------------------------
local function nice_step(range, n)
  local raw = range / n
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local f = raw / mag
  local nf = f < 1.5 and 1 or f < 3 and 2 or f < 7 and 5 or 10
  return nf * mag
end

-- An axis: data range -> {lo, hi, ticks, map(v) in [0, 1], labels}.
local function make_axis(vals, log, vmin, vmax, nticks)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(vals) do
    if finite(v) and (not log or v > 0) then
      if v < lo then lo = v end
      if v > hi then hi = v end
    end
  end
  if lo == math.huge then lo, hi = log and 1 or 0, log and 10 or 1 end
  lo, hi = vmin or lo, vmax or hi
  local ax = {log = log}
  if log then
    local b = log
    local llo, lhi = math.log(lo, b), math.log(hi, b)
    if not vmin then llo = math.floor(llo + 1e-9) end
    if not vmax then lhi = math.ceil(lhi - 1e-9) end
    if lhi <= llo then lhi = llo + 1 end
    ax.lo, ax.hi = b ^ llo, b ^ lhi
    ax.map = function(v) return (math.log(v, b) - llo) / (lhi - llo) end
    local ticks, every = {}, math.max(1, math.ceil((lhi - llo) / 8))
    for k = math.ceil(llo - 1e-9), math.floor(lhi + 1e-9) do
      if (k - math.ceil(llo - 1e-9)) % every == 0 then ticks[#ticks + 1] = b ^ k end
    end
    ax.minor = {}
    if b == 10 and lhi - llo <= 3 then -- 2 and 5 between decades
      for k = math.floor(llo), math.ceil(lhi) do
        for _, m in ipairs{2, 5} do
          local v = m * 10 ^ k
          local p = ax.map(v)
          if p > 0 and p < 1 then ax.minor[#ax.minor + 1] = v end
        end
      end
    end
    ax.ticks = ticks
    local wide = (lhi - llo) * math.log(b, 10) > 4.5 -- many decades: all as powers
    ax.label = function(v)
      if b == 2 and v >= 1 and v <= 1e6 then return fmt(v) end
      if not wide and v >= 1e-3 and v <= 1e4 then return fmt(v) end
      return {base = tostring(b), exp = tostring(math.floor(math.log(v, b) + 0.5))}
    end
  else
    if hi == lo then lo, hi = lo - 1, hi + 1 end
    local step = nice_step(hi - lo, nticks or 6)
    if not vmin then lo = math.floor(lo / step + 1e-9) * step end
    if not vmax then hi = math.ceil(hi / step - 1e-9) * step end
    ax.lo, ax.hi = lo, hi
    ax.map = function(v) return (v - lo) / (hi - lo) end
    local ticks = {}
    for k = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) do ticks[#ticks + 1] = k * step end
    ax.ticks, ax.minor = ticks, {}
    ax.label = function(v) return fmt(math.abs(v) < step * 1e-9 and 0 or v) end
  end
  return ax
end

-- A tick label: text, or 10 with a superscript exponent.
local function label_svg(out, x, y, anchor, lab)
  if type(lab) == "table" then
    out[#out + 1] = string.format('<text x="%.1f" y="%.1f" text-anchor="%s" font-size="12" %s>%s<tspan dy="-5" font-size="9">%s</tspan></text>',
      x, y, anchor, FONT, esc(lab.base), esc(lab.exp))
  else
    out[#out + 1] = string.format('<text x="%.1f" y="%.1f" text-anchor="%s" font-size="12" %s>%s</text>', x, y, anchor, FONT, esc(lab))
  end
end

local clip_id = 0

local function panel_svg(out, p, ox, oy, pw, ph)
  local ml, mr, mt, mb = 72, 16, 34, 52
  local x0, y0, w, h = ox + ml, oy + mt, pw - ml - mr, ph - mt - mb
  local xs, ys = {}, {}
  for _, s in ipairs(p.series) do
    for i = 1, #s.x do xs[#xs + 1] = s.x[i]; ys[#ys + 1] = s.y[i] end
  end
  local xa = make_axis(xs, p.xlog, p.xmin, p.xmax, 6)
  local ya = make_axis(ys, p.ylog, p.ymin, p.ymax, 6)
  local function px(v) return x0 + xa.map(v) * w end
  local function py(v) return y0 + h - ya.map(v) * h end
  -- panel title
  if p.title then
    out[#out + 1] = string.format('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="14" font-weight="bold" %s>%s</text>',
      x0 + w / 2, oy + 20, FONT, esc(p.title))
  end
  -- grid and ticks
  out[#out + 1] = '<g stroke="#e6e6e6" stroke-width="1">'
  for _, v in ipairs(xa.minor) do out[#out + 1] = string.format('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#f3f3f3"/>', px(v), y0, px(v), y0 + h) end
  for _, v in ipairs(ya.minor) do out[#out + 1] = string.format('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#f3f3f3"/>', x0, py(v), x0 + w, py(v)) end
  for _, v in ipairs(xa.ticks) do out[#out + 1] = string.format('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>', px(v), y0, px(v), y0 + h) end
  for _, v in ipairs(ya.ticks) do out[#out + 1] = string.format('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>', x0, py(v), x0 + w, py(v)) end
  out[#out + 1] = '</g>'
  out[#out + 1] = string.format('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333" stroke-width="1"/>', x0, y0, w, h)
  out[#out + 1] = '<g stroke="#333" stroke-width="1">'
  for _, v in ipairs(xa.ticks) do out[#out + 1] = string.format('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>', px(v), y0 + h, px(v), y0 + h + 5) end
  for _, v in ipairs(ya.ticks) do out[#out + 1] = string.format('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>', x0 - 5, py(v), x0, py(v)) end
  out[#out + 1] = '</g>'
  for _, v in ipairs(xa.ticks) do label_svg(out, px(v), y0 + h + 19, "middle", xa.label(v)) end
  for _, v in ipairs(ya.ticks) do label_svg(out, x0 - 8, py(v) + 4, "end", ya.label(v)) end
  -- axis labels
  if p.xlabel then
    out[#out + 1] = string.format('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="13" %s>%s</text>', x0 + w / 2, y0 + h + 42, FONT, esc(p.xlabel))
  end
  if p.ylabel then
    local lx, ly = ox + 16, y0 + h / 2
    out[#out + 1] = string.format('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="13" transform="rotate(-90 %.1f %.1f)" %s>%s</text>',
      lx, ly, lx, ly, FONT, esc(p.ylabel))
  end
  -- data, clipped to the plot area
  clip_id = clip_id + 1
  out[#out + 1] = string.format('<clipPath id="clip%d"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></clipPath>', clip_id, x0, y0, w, h)
  out[#out + 1] = string.format('<g clip-path="url(#clip%d)">', clip_id)
  for i, s in ipairs(p.series) do
    s.color = s.color or plot.palette[(i - 1) % #plot.palette + 1]
    local runs, cur = {}, {}
    for k = 1, #s.x do
      local x, y = s.x[k], s.y[k]
      local ok = finite(x) and finite(y) and (not p.xlog or x > 0) and (not p.ylog or y > 0)
      if ok then cur[#cur + 1] = string.format("%.2f,%.2f", px(x), py(y))
      elseif #cur > 0 then runs[#runs + 1] = cur; cur = {} end
    end
    if #cur > 0 then runs[#runs + 1] = cur end
    local dash = s.dash and ' stroke-dasharray="7 4"' or ""
    if s.line ~= false then
      for _, r in ipairs(runs) do
        out[#out + 1] = string.format('<polyline points="%s" fill="none" stroke="%s" stroke-width="%s" stroke-linejoin="round"%s/>',
          table.concat(r, " "), s.color, s.width or 2, dash)
      end
    end
    if s.marker then
      for _, r in ipairs(runs) do
        for _, pt in ipairs(r) do
          local x, y = pt:match("([^,]+),(.+)")
          if s.marker == "square" then
            out[#out + 1] = string.format('<rect x="%.2f" y="%.2f" width="7" height="7" fill="%s"/>', x - 3.5, y - 3.5, s.color)
          else
            out[#out + 1] = string.format('<circle cx="%s" cy="%s" r="3.2" fill="%s"/>', x, y, s.color)
          end
        end
      end
    end
  end
  out[#out + 1] = '</g>'
  -- legend
  if p.legend ~= false then
    local shown = {}
    for _, s in ipairs(p.series) do if not s.legend_skip then shown[#shown + 1] = s end end
    local n, maxlen = #shown, 0
    for _, s in ipairs(shown) do maxlen = math.max(maxlen, #tostring(s.label or "")) end
    local lw, lh = 40 + maxlen * 7.0, 8 + n * 18
    local where = p.legend or "top-right"
    local lx = where:find("left") and x0 + 8 or x0 + w - lw - 8
    local ly = where:find("bottom") and y0 + h - lh - 8 or y0 + 8
    out[#out + 1] = string.format('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="white" fill-opacity="0.9" stroke="#bbb"/>', lx, ly, lw, lh)
    for i, s in ipairs(shown) do
      local yy = ly + 4 + (i - 0.5) * 18
      local dash = s.dash and ' stroke-dasharray="7 4"' or ""
      if s.line ~= false then
        out[#out + 1] = string.format('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>', lx + 6, yy, lx + 30, yy, s.color, dash)
      end
      if s.marker == "square" then
        out[#out + 1] = string.format('<rect x="%.1f" y="%.1f" width="7" height="7" fill="%s"/>', lx + 14.5, yy - 3.5, s.color)
      elseif s.marker then
        out[#out + 1] = string.format('<circle cx="%.1f" cy="%.1f" r="3.2" fill="%s"/>', lx + 18, yy, s.color)
      end
      out[#out + 1] = string.format('<text x="%.1f" y="%.1f" font-size="12" %s>%s</text>', lx + 36, yy + 4, FONT, esc(s.label or ""))
    end
  end
end

-- The SVG text of a figure: a title over panels laid out in a row.
function plot.figure(fig)
  local pw, ph = fig.panel_width or 460, fig.panel_height or 360
  local n = #fig.panels
  local top = fig.title and 34 or 4
  local W, H = pw * n + 10, ph + top + (fig.note and 22 or 6)
  local out = {}
  out[#out + 1] = string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">', W, H, W, H)
  out[#out + 1] = string.format('<rect width="%d" height="%d" fill="white"/>', W, H)
  if fig.title then
    out[#out + 1] = string.format('<text x="%.1f" y="24" text-anchor="middle" font-size="17" font-weight="bold" %s>%s</text>', W / 2, FONT, esc(fig.title))
  end
  for i, p in ipairs(fig.panels) do panel_svg(out, p, 5 + (i - 1) * pw, top, pw, ph) end
  if fig.note then
    out[#out + 1] = string.format('<text x="10" y="%d" font-size="11" fill="#555" %s>%s</text>', H - 8, FONT, esc(fig.note))
  end
  out[#out + 1] = '</svg>'
  return table.concat(out, "\n") .. "\n"
end

function plot.save(path, svg)
  local f = assert(io.open(path, "w"))
  f:write(svg)
  f:close()
end

-- The output folder: the first non-option argument, else build/experiments.
-- Options: --quick (small sizes, for the tests).
function plot.options(args)
  local o = {dir = "build/experiments", quick = false}
  for _, a in ipairs(args or {}) do
    if a == "--quick" then o.quick = true else o.dir = a end
  end
  assert(os.execute("mkdir -p '" .. o.dir:gsub("'", "'\\''") .. "'"), "cannot create " .. o.dir)
  return o
end

-- Least-squares slope of log(y) against log(x): the growth exponent.
function plot.loglog_slope(xs, ys)
  local n, sx, sy, sxx, sxy = 0, 0, 0, 0, 0
  for i = 1, #xs do
    if xs[i] > 0 and ys[i] > 0 then
      local x, y = math.log(xs[i]), math.log(ys[i])
      n, sx, sy, sxx, sxy = n + 1, sx + x, sy + y, sxx + x * x, sxy + x * y
    end
  end
  if n < 2 then return 0 / 0 end
  return (n * sxy - sx * sy) / (n * sxx - sx * sx)
end

return plot
