-- wrk script: GET /predict/A<n> with n uniform over 0 .. ASSETS-1 (default 1000), a new asset on each request.
local assets = tonumber(os.getenv("ASSETS") or "1000")
math.randomseed(7)
request = function()
  return wrk.format("GET", "/predict/A" .. math.random(0, assets - 1))
end
