using Tessera.Redis.Resp;

namespace Tessera.Redis;

// The administration scripts (listing and clearing). Not in All: they are rare, and the first use after a connect
// costs one EVAL instead of every connect costing a SCRIPT LOAD.
internal static partial class RedisScripts
{
    /// <summary>
    /// KEYS[1] = the index to walk (P:x, or a subject's P:u:sub). ARGV 4.. = cursor score ('' from the start), cursor id,
    /// page size, state ('' any, 'live', 'expired', 'revoked'), subject ('' any). Walks the index in its order (score,
    /// then id) from just after the cursor, reading at most a bounded number of members, and returns
    /// {next cursor or '', id, HGETALL, id, HGETALL, ...}.
    /// </summary>
    public static readonly RedisScript ListSessions = new(Prelude + """
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
        """);

    /// <summary>Deletes up to ARGV[4] sessions of the expiry index (every session is in it). Returns {visited, deleted}.</summary>
    public static readonly RedisScript ClearBatch = new(Prelude + """
        local ids = redis.call('ZRANGE', XKEY, 0, tonumber(ARGV[4]) - 1)
        local deleted = 0
        for _, id in ipairs(ids) do deleted = deleted + purge(id) end
        if #ids == 0 then
          -- Stragglers of the other indexes (their sessions are gone already).
          for _, key in ipairs({AKEY, RKEY, NKEY}) do
            for _, id in ipairs(redis.call('ZRANGE', key, 0, tonumber(ARGV[4]) - 1)) do
              deleted = deleted + purge(id)
              ids[#ids + 1] = id
            end
          end
        end
        return {#ids, deleted}
        """);
}
