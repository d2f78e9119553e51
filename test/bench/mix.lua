-- wrk script for `npm run bench:load`: a mix of the tickets API's calls through the gateway.
-- 20% POST /tickets, 30% GET /tickets/{id} (Redis-cached), 30% GET /tickets?limit=20&offset=...
-- 20% PATCH /tickets/{id}. Ids are drawn from the tickets the benchmark created beforehand
-- (1..AURA_SEEDED), so every call should answer 2xx. Every status is counted per thread and
-- the totals are printed as one JSON line for test/bench/load.ts to check.
local key = os.getenv("AURA_API_KEY") or ""
local seeded = tonumber(os.getenv("AURA_SEEDED") or "100")
local prefix = "/api/service-desk"
local statuses = { "open", "in_progress", "resolved", "closed" }
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
  math.randomseed(os.time() + math.floor(os.clock() * 1000000) + #tostring({}))
end

local function headers(json)
  local h = { ["Authorization"] = "Bearer " .. key }
  if json then h["Content-Type"] = "application/json" end
  return h
end

function request()
  local roll = math.random(100)
  local id = math.random(seeded)
  if roll <= 20 then
    return wrk.format("POST", prefix .. "/tickets", headers(true),
      '{"title":"load ' .. id .. '","description":"created by bench:load"}')
  elseif roll <= 50 then
    return wrk.format("GET", prefix .. "/tickets/" .. id, headers(false))
  elseif roll <= 80 then
    return wrk.format("GET", prefix .. "/tickets?limit=20&offset=" .. math.random(0, seeded - 1), headers(false))
  else
    return wrk.format("PATCH", prefix .. "/tickets/" .. id, headers(true),
      '{"status":"' .. statuses[math.random(#statuses)] .. '"}')
  end
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for status, n in pairs(c) do
      total[tostring(status)] = (total[tostring(status)] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%s":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'AURA_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    table.concat(parts, ",")))
end
