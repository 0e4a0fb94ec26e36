-- wrk script for bench/heartbeat_pg.py: every station's heartbeat in turn, each with its own bearer token.
-- The stations file has one "station_id token" per line, split into N parts (arguments 4 and 5: N and this wrk
-- process's first part); each wrk thread beats for one part (with one wrk per API instance a station always
-- beats to the same instance, as it would over its keep-alive connection through the proxy).
-- 2 % of beats flip the station's locker picture (a change of health summary, as a lending or a battery
-- crossing its line would). At the end one line `WRK {json}` with the counts and latency percentiles (µs).
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter - 1)
  table.insert(threads, thread)
end

function init(args)
  local file, bodies = args[1], {}
  for i = 2, 3 do
    local f = assert(io.open(args[i], "rb")); bodies[i - 1] = f:read("*a"); f:close()
  end
  local total, part = tonumber(args[4]), tonumber(args[5] or "0") + index
  heads, variant, n, i = {}, {}, 0, 0
  local k = 0
  for line in io.lines(file) do
    if k % total == part then
      local sid, token = line:match("^(%S+) (%S+)$")
      n = n + 1
      heads[n] = "POST /api/v1/stations/" .. sid .. "/heartbeat HTTP/1.1\r\nHost: 127.0.0.1\r\n" ..
                 "Authorization: Bearer " .. token .. "\r\nContent-Type: application/json\r\nContent-Length: "
      variant[n] = 1
    end
    k = k + 1
  end
  body = bodies
  lens = {tostring(#bodies[1]), tostring(#bodies[2])}
  math.randomseed(7 + index)
  i = math.random(n) - 1
end

local pause = tonumber(os.getenv("HB_DELAY_MS") or "0") or 0
if pause > 0 then
  -- paced: wait this long after each answer before the next beat on the connection
  function delay() return pause end
end

function request()
  i = i % n + 1
  if math.random() < 0.02 then variant[i] = 3 - variant[i] end
  local v = variant[i]
  return heads[i] .. lens[v] .. "\r\n\r\n" .. body[v]
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
