local function run(t)
  for i = 1, 1000 do
    for j = 1, 1000 do
      t[i][j] = t[i][j] * 2.0 + 1.0
    end
  end
  local s = 0.0
  for i = 1, 1000 do
    for j = 1, 1000 do
      s = s + t[i][j]
    end
  end
  return s
end
local t = {}
for i = 1, 1000 do
  local row = {}
  for j = 1, 1000 do row[j] = 0.0 end
  t[i] = row
end
print(run(t))
