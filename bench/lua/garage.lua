-- wrk script for the garage benchmark (bench/wrkrun.py drives it).
--
--   wrk ... -s garage.lua <url> -- post <piece,piece,...> <duree> [limit]
--   wrk ... -s garage.lua <url> -- get <piece,piece,...> <duree> [limit]
--   wrk ... -s garage.lua <url> -- paths <file-with-one-path-a-line>
--   wrk ... -s garage.lua <url> -- detail <lowest-id> <highest-id>
--
-- Each intake request goes to one of the given parts at random. `limit` stops each wrk
-- thread after that many responses (0: no limit): the drain phase pre-loads a backlog that
-- way (wrk itself sleeps out its -d, so the harness then ends it with SIGINT). Every status
-- code is counted, and `done` prints one line `BENCH_JSON {...}` with the counts and exact
-- latency percentiles, so that the harness never has to parse wrk's human-readable output.

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   mode = args[1]
   -- The API token, from the environment (never on wrk's command line).
   local auth = os.getenv("BENCH_AUTHORIZATION")
   if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
   statuses = {}
   seen = 0
   limit = 0
   math.randomseed(os.time() * 1000 + tid)
   if mode == "post" or mode == "get" then
      local pieces = {}
      for id in string.gmatch(args[2], "[^,]+") do table.insert(pieces, id) end
      local duree = args[3]
      limit = tonumber(args[4] or "0")
      local headers = {["Content-Type"] = "application/json",
                       ["Authorization"] = wrk.headers["Authorization"]}
      local function build(piece)
         if mode == "post" then
            return wrk.format("POST", "/reparation/", headers,
                              '{"piece": ' .. piece .. ', "duree": ' .. duree .. '}')
         end
         return wrk.format("GET", "/reparation/" .. piece .. "/" .. duree .. "/")
      end
      -- One request per part, built once; each request picks one at random.
      local prebuilt = {}
      for i, piece in ipairs(pieces) do prebuilt[i] = build(piece) end
      request = function()
         return prebuilt[math.random(#prebuilt)]
      end
   elseif mode == "paths" then
      paths = {}
      for line in io.lines(args[2]) do
         if line ~= "" then table.insert(paths, line) end
      end
      request = function()
         return wrk.format("GET", paths[math.random(#paths)])
      end
   elseif mode == "detail" then
      lo, hi = tonumber(args[2]), tonumber(args[3])
      request = function()
         return wrk.format("GET", "/api/reparation/" .. math.random(lo, hi) .. "/")
      end
   else
      error("unknown mode " .. tostring(mode))
   end
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   seen = seen + 1
   if limit > 0 and seen >= limit then
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local counts = {}
   for _, thread in ipairs(threads) do
      local s = thread:get("statuses")
      if s then
         for code, n in pairs(s) do
            counts[code] = (counts[code] or 0) + n
         end
      end
   end
   local parts = {}
   for code, n in pairs(counts) do
      table.insert(parts, string.format('"%d": %d', code, n))
   end
   local e = summary.errors
   local pct = {}
   for _, p in ipairs({50, 90, 99, 99.9}) do
      table.insert(pct, string.format('"%s": %d', tostring(p), latency:percentile(p)))
   end
   io.write(string.format(
      'BENCH_JSON {"duration_us": %d, "requests": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"statuses": {%s}, "latency_us": {"min": %d, "max": %d, "mean": %.1f, %s}}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      table.concat(parts, ", "),
      latency.min, latency.max, latency.mean, table.concat(pct, ", ")))
end
