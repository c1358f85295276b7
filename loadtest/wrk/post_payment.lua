-- wrk script for `deno task bench:gateway`: POST /pix/payments with a new payment every request
-- (the gateway makes the transaction id and timestamp), backends 1..4, amounts 1.00..1000.99.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"backend_id":"%d","amount":"%d.%02d","payee_key":"bench@fastpix.example"}',
    n % 4 + 1, 1 + n % 1000, n % 100)
  return wrk.format(nil, nil, nil, body)
end
