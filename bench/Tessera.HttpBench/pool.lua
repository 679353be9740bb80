-- wrk script for the HTTP benchmark: every request carries a credential from a pool, so load is spread over many
-- sessions (one session per connection at least) and the client does the same work on every route, /healthz included.
--
--   wrk ... <url> -- <mode> <credentials file> <threads> <method>
--
-- mode "header": each line of the file is one request header ("Cookie: name=value" or "Authorization: Bearer ...");
--   the requests are formatted once in init() and handed out round-robin.
-- mode "refresh": each line is a refresh token, the head of one token chain. request() pops a token and posts it to
--   the URL as {"refreshToken": ...}; response() pushes the rotated token from the body back, so every token is used
--   exactly once (a reused one would revoke its session). A failed refresh ends its chain; when a thread runs out of
--   tokens it sends an empty one, which answers 400 and shows up as a non-2xx response.
--
-- Each of wrk's threads takes every <threads>-th line, starting at its own index (set in setup()).

local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local mode, file, threads, method = args[1], args[2], tonumber(args[3]), args[4]
  local lines, i = {}, 0
  for line in io.lines(file) do
    if line ~= "" then
      if i % threads == id then
        lines[#lines + 1] = line
      end
      i = i + 1
    end
  end

  if mode == "refresh" then
    local pool, head, tail = {}, 1, 0
    for _, token in ipairs(lines) do
      tail = tail + 1
      pool[tail] = token
    end
    local headers = { ["Content-Type"] = "application/json" }
    request = function()
      local token = ""
      if head <= tail then
        token = pool[head]
        pool[head] = nil
        head = head + 1
      end
      return wrk.format("POST", nil, headers, '{"refreshToken":"' .. token .. '"}')
    end
    response = function(status, _, body)
      if status == 200 then
        local token = body:match('"refreshToken"%s*:%s*"([^"]+)"')
        if token then
          tail = tail + 1
          pool[tail] = token
        end
      end
    end
  else
    local requests = {}
    for _, line in ipairs(lines) do
      local name, value = line:match("^([^:]+):%s*(.*)$")
      requests[#requests + 1] = wrk.format(method, nil, { [name] = value }, nil)
    end
    local n, count = 0, #requests
    request = function()
      n = n % count + 1
      return requests[n]
    end
  end
end
