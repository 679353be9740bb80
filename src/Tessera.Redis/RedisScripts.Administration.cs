namespace Tessera.Redis;

// The administration scripts (listing and clearing), one bucket at a time.
internal static partial class RedisScripts
{
    /// <summary>
    /// KEYS[1] = the bucket's expiry index. ARGV 4.. = cursor score ('' from the start), cursor id, page size, state
    /// ('' any, 'live', 'expired', 'revoked'), subject ('' any). Walks the index in its order (score, then id) from just
    /// after the cursor, reading at most a bounded number of members, and returns {next cursor or '', score, id,
    /// HGETALL, ...}: the next cursor is '' once the bucket is walked to its end.
    /// </summary>
    public const string ListSessions = Prelude + """
        local idx, cs, cid = KEYS[1], ARGV[4], ARGV[5]
        local n, want, sub = tonumber(ARGV[6]), ARGV[7], ARGV[8]
        local budget = math.max(n * 4, 1000)
        local start = 0
        if cs ~= '' then
          local sc = redis.call('ZSCORE', idx, cid)
          if sc and tonumber(sc) == tonumber(cs) then
            start = redis.call('ZRANK', idx, cid) + 1
          else
            -- The cursor's member left or moved: resume after every member scored at or below the cursor's score.
            start = redis.call('ZCOUNT', idx, '-inf', cs)
          end
        end
        local out = {''}
        local found, scanned = 0, 0
        while true do
          local batch = redis.call('ZRANGE', idx, start, start + 199, 'WITHSCORES')
          if #batch == 0 then return out end
          for i = 1, #batch, 2 do
            local id, score = batch[i], batch[i + 1]
            start = start + 1
            scanned = scanned + 1
            local sk = skey(id)
            local m = redis.call('HMGET', sk, 'm:i', 'm:a', 'm:r', 'm:sub')
            if m[2] then
              local state = 'live'
              if m[3] then state = 'revoked'
              elseif NOW >= math.min(tonumber(m[1]), tonumber(m[2])) then state = 'expired' end
              if (want == '' or want == state) and (sub == '' or m[4] == sub) then
                if found == n then
                  out[1] = out[#out - 2] .. ':' .. out[#out - 1]
                  return out
                end
                found = found + 1
                out[#out + 1] = score
                out[#out + 1] = id
                out[#out + 1] = redis.call('HGETALL', sk)
              end
            end
            if scanned >= budget then
              out[1] = score .. ':' .. id
              return out
            end
          end
        end
        """;

    /// <summary>
    /// Deletes up to ARGV[4] sessions of the bucket (its expiry index holds every session; then stragglers of its other
    /// indexes). Returns {visited, id, subject or '', ...} of the deleted.
    /// </summary>
    public const string ClearBatch = Prelude + """
        local out = {0}
        local ids = redis.call('ZRANGE', XKEY, 0, tonumber(ARGV[4]) - 1)
        if #ids == 0 then ids = redis.call('ZRANGE', AKEY, 0, tonumber(ARGV[4]) - 1) end
        if #ids == 0 then ids = redis.call('ZRANGE', RKEY, 0, tonumber(ARGV[4]) - 1) end
        for _, id in ipairs(ids) do purge(id, out) end
        out[1] = #ids
        return out
        """;
}
