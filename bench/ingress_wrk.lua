-- wrk script of bench/run_ingress.sh: POSTs the pre-signed Messenger webhooks written by
-- ingress_bench_prepare (one "sha256=..<TAB>sha1=..<TAB>body" line each) to wrk's URL path.
--   wrk -t2 -c64 -d10s -s ingress_wrk.lua http://127.0.0.1:PORT/webhooks/messenger/KEY \
--       -- <bodies file> <threads>
-- Thread k of n sends lines k, k+n, k+2n, ... in order, so no two requests of one run share a
-- mid until a thread has used up its share (it then starts over and says so: "wrapped=1"; a
-- wrapped request is a duplicate that ingress answers 200 without storing anything).
-- At the end it prints one machine-readable line:
--   RESULT requests=N seconds=S http_errors=N (4xx/5xx) socket_errors=N p50_ms=X p99_ms=X wrapped=0|1

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local requests = {}
local index = 0
wrapped = 0

function init(args)
  local file, count = args[1], tonumber(args[2])
  local line_no = 0
  for line in io.lines(file) do
    if line_no % count == id then
      local sha256, sha1, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", wrk.path, {
        ["Content-Type"] = "application/json",
        ["X-Hub-Signature-256"] = sha256,
        ["X-Hub-Signature"] = sha1,
      }, body)
    end
    line_no = line_no + 1
  end
  if #requests == 0 then
    error("no requests for thread " .. id .. " in " .. file)
  end
end

function request()
  index = index + 1
  if index > #requests then
    index = 1
    wrapped = 1
  end
  return requests[index]
end

function done(summary, latency, _)
  local any_wrapped = 0
  for _, thread in ipairs(threads) do
    if thread:get("wrapped") == 1 then any_wrapped = 1 end
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f http_errors=%d socket_errors=%d p50_ms=%.2f p99_ms=%.2f wrapped=%d\n",
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, any_wrapped))
end
