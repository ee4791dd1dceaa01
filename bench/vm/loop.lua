local function run(n)
  local s = 0
  for i = 0, n - 1 do
    s = s + i % 7 * 3
  end
  return s
end
print(run(10000000))
