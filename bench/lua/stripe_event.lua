-- POST /v1/stripe/webhooks/{workspace}: a new Stripe event on every request, signed like Stripe
-- (Stripe-Signature: t=<now>,v1=<hex HMAC-SHA256 of "t.body">; OpenSSL's HMAC through LuaJIT's FFI,
-- wrk links libcrypto). BENCH_TARGETS: "path<TAB>whsec_..." per workspace, taken in turn.
-- BENCH_TEMPLATE: the event JSON with @ID@, @SUB@, @CUS@ and @CREATED@ markers. BENCH_SALT keeps
-- IDs unique across targets, BENCH_RUN across runs. BENCH_MAX_REQUESTS (optional): answers per thread before it stops.
local ffi = require("ffi")
ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *md, const void *key, int key_len, const unsigned char *d, size_t n,
                    unsigned char *out, unsigned int *out_len);
]]
local digest, digest_len = ffi.new("unsigned char[32]"), ffi.new("unsigned int[1]")
local sha256 = ffi.C.EVP_sha256()
local hex = {}
for i = 0, 255 do hex[i] = string.format("%02x", i) end

local function hmac_hex(key, message)
  ffi.C.HMAC(sha256, key, #key, message, #message, digest, digest_len)
  local out = {}
  for i = 0, 31 do out[i + 1] = hex[digest[i]] end
  return table.concat(out)
end

local targets = {}
for line in io.lines(os.getenv("BENCH_TARGETS")) do
  local path, secret = line:match("^(%S+)\t(%S+)$")
  if path then targets[#targets + 1] = {path, secret} end
end

local template = assert(io.open(os.getenv("BENCH_TEMPLATE"))):read("*a")
local parts, marks, pos = {}, {}, 1
for first, name, after in template:gmatch("()@(%u+)@()") do
  parts[#parts + 1] = template:sub(pos, first - 1)
  marks[#marks + 1] = name
  pos = after
end
parts[#parts + 1] = template:sub(pos)

local salt = (os.getenv("BENCH_SALT") or "") .. (os.getenv("BENCH_RUN") or "")
local max_requests = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "0")
local threads = 0
local sent, answered = 0, 0

setup = function(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

request = function()
  sent = sent + 1
  local serial = salt .. "t" .. thread_number .. "n" .. sent
  local now = os.time()
  local values = {ID = "evt_" .. serial, SUB = serial, CUS = "cus_bench" .. (sent % 1000),
                  CREATED = tostring(now)}
  local pieces = {}
  for i = 1, #marks do
    pieces[#pieces + 1] = parts[i]
    pieces[#pieces + 1] = values[marks[i]]
  end
  pieces[#pieces + 1] = parts[#parts]
  local body = table.concat(pieces)
  local target = targets[(sent % #targets) + 1]
  local signature = "t=" .. now .. ",v1=" .. hmac_hex(target[2], now .. "." .. body)
  return wrk.format("POST", target[1], {["Content-Type"] = "application/json", ["Stripe-Signature"] = signature}, body)
end

if max_requests > 0 then
  -- wrk waits out -d whatever its threads do: each thread leaves a file when done and the bench
  -- then stops wrk with SIGINT (it still prints its report).
  response = function(status, headers, body)
    answered = answered + 1
    if answered == max_requests then
      assert(io.open(os.getenv("BENCH_DONE_DIR") .. "/" .. thread_number, "w")):close()
      wrk.thread:stop()
    end
  end
end
