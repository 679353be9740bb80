using Tessera.Redis.Resp;

namespace Tessera.Redis;

/// <summary>
/// The store's Lua scripts. Each store write is one script, so its checks ("only if live", "only if not revoked") and
/// its writes run atomically: Redis runs one script at a time and nothing interleaves.
/// </summary>
/// <remarks>
/// Every script gets <c>ARGV[1]</c> = key prefix, <c>ARGV[2]</c> = the store's now (unix ms, from its
/// <see cref="TimeProvider"/>, never Redis's clock), <c>ARGV[3]</c> = the expiry margin (ms). Times are unix
/// milliseconds kept as decimal strings. <c>KEYS[1]</c> is the key the operation starts from (the session hash, a
/// credential pointer or a token pointer); the other keys are derived from ids read on the way, which is why the
/// whole store must live on one Redis node (see <see cref="RedisSessionStore"/>).
/// </remarks>
internal static partial class RedisScripts
{
    private const string Prelude = """
        local P = ARGV[1]
        local NOW = tonumber(ARGV[2])
        local MARGIN = tonumber(ARGV[3])
        local function skey(id) return P .. ':s:{' .. id .. '}' end
        local function tkey(id) return P .. ':t:{' .. id .. '}' end
        local function ckey(hex) return P .. ':c:' .. hex end
        local function kkey(tid) return P .. ':k:' .. tid end
        local function ukey(sub) return P .. ':u:' .. sub end
        local XKEY = P .. ':x'
        local AKEY = P .. ':a'
        local RKEY = P .. ':r'
        local NKEY = P .. ':n'
        local function fmt(n) return string.format('%.0f', n) end
        local function life(sk, abs)
          local t = redis.call('PTTL', sk)
          if t > 0 then return t end
          t = abs - NOW + MARGIN
          if t < MARGIN then t = MARGIN end
          return t
        end
        local function live(sk)
          local m = redis.call('HMGET', sk, 'm:i', 'm:a', 'm:r')
          if not m[2] or m[3] then return nil end
          local i, a = tonumber(m[1]), tonumber(m[2])
          if NOW >= math.min(i, a) then return nil end
          return i, a
        end
        local function chunked(cmd, key, first, last)
          local i = first
          while i <= last do
            local j = math.min(i + 499, last)
            redis.call(cmd, key, unpack(ARGV, i, j))
            i = j + 1
          end
        end
        local function purge(id)
          local sk, tk = skey(id), tkey(id)
          local m = redis.call('HMGET', sk, 'm:ch', 'm:sub')
          local existed = redis.call('DEL', sk)
          for _, tid in ipairs(redis.call('HKEYS', tk)) do
            local kk = kkey(tid)
            if redis.call('GET', kk) == id then redis.call('DEL', kk) end
          end
          redis.call('DEL', tk)
          if m[1] then
            local ck = ckey(m[1])
            if redis.call('GET', ck) == id then redis.call('DEL', ck) end
          end
          if m[2] then redis.call('ZREM', ukey(m[2]), id) end
          redis.call('ZREM', XKEY, id)
          redis.call('ZREM', AKEY, id)
          redis.call('ZREM', NKEY, id)
          redis.call('ZREM', RKEY, id)
          return existed
        end

        """;

    /// <summary>
    /// ARGV 4.. = id, credential hex, subject, has-subject (1/0), createdAt, expiresAt, absoluteExpiresAt, the most live
    /// anonymous sessions or '' for no bound, then the hash's field/value pairs. Returns 1, 0 when the id or the
    /// credential is taken, or -2 when the session is anonymous and the live anonymous sessions (P:n, by expiry) are at
    /// the bound.
    /// </summary>
    public static readonly RedisScript Create = new(Prelude + """
        local sk, id, cred = KEYS[1], ARGV[4], ARGV[5]
        if redis.call('EXISTS', sk) == 1 or redis.call('EXISTS', ckey(cred)) == 1 then return 0 end
        local anonymous = ARGV[7] == '0'
        if anonymous and ARGV[11] ~= '' and redis.call('ZCOUNT', NKEY, '(' .. ARGV[2], '+inf') >= tonumber(ARGV[11]) then return -2 end
        chunked('HSET', sk, 12, #ARGV)
        local t = life(sk, tonumber(ARGV[10]))
        redis.call('PEXPIRE', sk, t)
        redis.call('SET', ckey(cred), id, 'PX', t)
        redis.call('ZADD', XKEY, ARGV[9], id)
        redis.call('ZADD', AKEY, ARGV[9], id)
        if anonymous then redis.call('ZADD', NKEY, ARGV[9], id) else redis.call('ZADD', ukey(ARGV[6]), ARGV[8], id) end
        return 1
        """);

    /// <summary>KEYS[1] = credential pointer; ARGV 4 = credential hex. Returns {id, HGETALL} or nil.</summary>
    public static readonly RedisScript LoadByCredential = new(Prelude + """
        local id = redis.call('GET', KEYS[1])
        if not id then return false end
        local sk = skey(id)
        if redis.call('HGET', sk, 'm:ch') ~= ARGV[4] then return false end
        return {id, redis.call('HGETALL', sk)}
        """);

    /// <summary>
    /// ARGV 4.. = id, clear (1/0), subject changed (1/0), has subject (1/0), subject, new credential hex or '',
    /// last seen or '', idle expiry or '', removed count n, n removed fields ('d:' prefixed), then set pairs.
    /// Returns 1, 0 (not live) or -1 (new credential taken).
    /// </summary>
    public static readonly RedisScript Apply = new(Prelude + """
        local sk, id = KEYS[1], ARGV[4]
        local idle, abs = live(sk)
        if not idle then return 0 end
        local m = redis.call('HMGET', sk, 'm:ch', 'm:sub', 'm:c')
        local newc = ARGV[9]
        if newc ~= '' then
          if redis.call('EXISTS', ckey(newc)) == 1 then return -1 end
          local old = ckey(m[1])
          if redis.call('GET', old) == id then redis.call('DEL', old) end
          redis.call('SET', ckey(newc), id, 'PX', life(sk, abs))
          redis.call('HSET', sk, 'm:ch', newc)
        end
        if ARGV[5] == '1' then
          local dels = {}
          for _, f in ipairs(redis.call('HKEYS', sk)) do
            if string.sub(f, 1, 2) == 'd:' then
              dels[#dels + 1] = f
              if #dels >= 500 then redis.call('HDEL', sk, unpack(dels)); dels = {} end
            end
          end
          if #dels > 0 then redis.call('HDEL', sk, unpack(dels)) end
        end
        local n = tonumber(ARGV[12])
        if n > 0 then chunked('HDEL', sk, 13, 12 + n) end
        if #ARGV > 12 + n then chunked('HSET', sk, 13 + n, #ARGV) end
        if ARGV[6] == '1' then
          if m[2] then redis.call('ZREM', ukey(m[2]), id) end
          if ARGV[7] == '1' then
            redis.call('HSET', sk, 'm:sub', ARGV[8])
            redis.call('ZADD', ukey(ARGV[8]), m[3], id)
          else
            redis.call('HDEL', sk, 'm:sub')
          end
        end
        if ARGV[10] ~= '' then redis.call('HSET', sk, 'm:l', ARGV[10]) end
        if ARGV[11] ~= '' then
          redis.call('HSET', sk, 'm:i', ARGV[11])
          local e = fmt(math.min(tonumber(ARGV[11]), abs))
          redis.call('ZADD', XKEY, e, id)
          redis.call('ZADD', AKEY, e, id)
          redis.call('ZADD', NKEY, 'XX', e, id)
        end
        if ARGV[6] == '1' then
          if ARGV[7] == '1' then redis.call('ZREM', NKEY, id) else redis.call('ZADD', NKEY, redis.call('ZSCORE', AKEY, id), id) end
        end
        return 1
        """);

    /// <summary>ARGV 4.. = id, last seen, idle expiry. Returns 1, or 0 when not live.</summary>
    public static readonly RedisScript Touch = new(Prelude + """
        local sk, id = KEYS[1], ARGV[4]
        local idle, abs = live(sk)
        if not idle then return 0 end
        redis.call('HSET', sk, 'm:l', ARGV[5], 'm:i', ARGV[6])
        local e = fmt(math.min(tonumber(ARGV[6]), abs))
        redis.call('ZADD', XKEY, e, id)
        redis.call('ZADD', AKEY, e, id)
        redis.call('ZADD', NKEY, 'XX', e, id)
        return 1
        """);

    /// <summary>ARGV 4.. = id, revokedAt. Returns 1, or 0 when missing or already revoked.</summary>
    public static readonly RedisScript Revoke = new(Prelude + """
        local sk, id = KEYS[1], ARGV[4]
        local m = redis.call('HMGET', sk, 'm:a', 'm:r', 'm:ch')
        if not m[1] or m[2] then return 0 end
        redis.call('HSET', sk, 'm:r', ARGV[5])
        local ck = ckey(m[3])
        if redis.call('GET', ck) == id then redis.call('DEL', ck) end
        redis.call('ZREM', AKEY, id)
        redis.call('ZREM', NKEY, id)
        redis.call('ZADD', RKEY, ARGV[5], id)
        return 1
        """);

    /// <summary>ARGV 4 = id. Returns 1 when the session's hash existed.</summary>
    public static readonly RedisScript Delete = new(Prelude + """
        return purge(ARGV[4])
        """);

    /// <summary>ARGV 4.. = which index ('x' expiry, 'r' revocation), cut-off (inclusive), batch size. Returns how many were deleted.</summary>
    public static readonly RedisScript DeleteBatch = new(Prelude + """
        local index = XKEY
        if ARGV[4] == 'r' then index = RKEY end
        local ids = redis.call('ZRANGEBYSCORE', index, '-inf', ARGV[5], 'LIMIT', 0, tonumber(ARGV[6]))
        for _, id in ipairs(ids) do purge(id) end
        return #ids
        """);

    /// <summary>KEYS[1] = the subject's set. Returns {id, HGETALL, ...} oldest first; forgets ids whose hash is gone.</summary>
    public static readonly RedisScript ListBySubject = new(Prelude + """
        local out = {}
        for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
          local h = redis.call('HGETALL', skey(id))
          if #h == 0 then
            redis.call('ZREM', KEYS[1], id)
          else
            out[#out + 1] = id
            out[#out + 1] = h
          end
        end
        return out
        """);

    /// <summary>
    /// KEYS[1] = the subject's set; ARGV 4.. = subject, keep, order ('c' oldest created first, 's' most recently seen
    /// first, 'n' newcomer only), id to rank first or '' (under 'n': the only id that may be revoked), revokedAt. Revokes
    /// the live sessions of the subject ranked beyond keep; returns their ids.
    /// </summary>
    public static readonly RedisScript TrimSubject = new(Prelude + """
        local subject, keep, order, must, rat = ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8]
        local rows = {}
        for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
          local sk = skey(id)
          if live(sk) then
            local m = redis.call('HMGET', sk, 'm:sub', 'm:c', 'm:l')
            if m[1] == subject then
              rows[#rows + 1] = {id = id, c = tonumber(m[2]), l = tonumber(m[3]), k = (id == must)}
            end
          end
        end
        if order == 'n' then
          local found = false
          for _, r in ipairs(rows) do
            if r.k then found = true end
          end
          if #rows <= keep or not found then return {} end
          rows, keep = {{id = must}}, 0
        end
        table.sort(rows, function(a, b)
          if a.k ~= b.k then return a.k end
          if order == 'c' then
            if a.c ~= b.c then return a.c < b.c end
            return a.id < b.id
          end
          if a.l ~= b.l then return a.l > b.l end
          if a.c ~= b.c then return a.c > b.c end
          return a.id > b.id
        end)
        local out = {}
        for i = keep + 1, #rows do
          local id = rows[i].id
          local sk = skey(id)
          local ch = redis.call('HGET', sk, 'm:ch')
          redis.call('HSET', sk, 'm:r', rat)
          if ch then
            local ck = ckey(ch)
            if redis.call('GET', ck) == id then redis.call('DEL', ck) end
          end
          redis.call('ZREM', AKEY, id)
          redis.call('ZREM', NKEY, id)
          redis.call('ZADD', RKEY, rat, id)
          out[#out + 1] = id
        end
        return out
        """);

    /// <summary>ARGV 4.. = session id, access id, access JSON, refresh id, refresh JSON. Returns 1, or 0 (not live or id taken).</summary>
    public static readonly RedisScript CreateTokens = new(Prelude + """
        local sk, sid = KEYS[1], ARGV[4]
        local idle, abs = live(sk)
        if not idle then return 0 end
        local tk = tkey(sid)
        for _, tid in ipairs({ARGV[5], ARGV[7]}) do
          if redis.call('EXISTS', kkey(tid)) == 1 or redis.call('HEXISTS', tk, tid) == 1 then return 0 end
        end
        local t = life(sk, abs)
        redis.call('HSET', tk, ARGV[5], ARGV[6], ARGV[7], ARGV[8])
        redis.call('PEXPIRE', tk, t)
        redis.call('SET', kkey(ARGV[5]), sid, 'PX', t)
        redis.call('SET', kkey(ARGV[7]), sid, 'PX', t)
        return 1
        """);

    /// <summary>KEYS[1] = token pointer; ARGV 4 = token id. Returns {session id, token JSON, HGETALL of the session} or nil.</summary>
    public static readonly RedisScript LoadToken = new(Prelude + """
        local sid = redis.call('GET', KEYS[1])
        if not sid then return false end
        local tj = redis.call('HGET', tkey(sid), ARGV[4])
        if not tj then return false end
        return {sid, tj, redis.call('HGETALL', skey(sid))}
        """);

    /// <summary>
    /// KEYS[1] = token pointer; ARGV 4 = token id. Returns {session id, token JSON, HGETALL of the session, successor
    /// id, successor JSON, successor's access id, that token's JSON} (the last four false when missing) or nil: the
    /// token and its successor pair read in one script, so at one moment.
    /// </summary>
    public static readonly RedisScript LoadRefreshToken = new(Prelude + """
        local sid = redis.call('GET', KEYS[1])
        if not sid then return false end
        local tk = tkey(sid)
        local tj = redis.call('HGET', tk, ARGV[4])
        if not tj then return false end
        local nid, nj, aid, aj = false, false, false, false
        local t = cjson.decode(tj)
        if t.s then
          nid = t.s
          nj = redis.call('HGET', tk, nid)
          if nj then
            aid = cjson.decode(nj).p
            aj = redis.call('HGET', tk, aid)
          end
        end
        return {sid, tj, redis.call('HGETALL', skey(sid)), nid, nj, aid, aj}
        """);

    /// <summary>
    /// KEYS[1] = the old refresh token's pointer. ARGV 4.. = old refresh id, new access session id, new refresh session
    /// id, new access id, new access JSON, new refresh id, new refresh JSON, rotation time, new refresh expiry, and the
    /// cutoff before which the session's rotated tokens are dropped (they expired and can never be presented again).
    /// Returns 0 rotated, 1 already revoked, 2 not found, 3 session not live; an error when a new id is taken.
    /// </summary>
    public static readonly RedisScript Rotate = new(Prelude + """
        local sid = redis.call('GET', KEYS[1])
        if not sid then return 2 end
        local tk = tkey(sid)
        local oj = redis.call('HGET', tk, ARGV[4])
        if not oj then return 2 end
        local old = cjson.decode(oj)
        if old.k ~= 1 then return 2 end
        if old.r then return 1 end
        if ARGV[5] ~= sid or ARGV[6] ~= sid then return 3 end
        local sk = skey(sid)
        local idle, abs = live(sk)
        if not idle then return 3 end
        for _, tid in ipairs({ARGV[7], ARGV[9]}) do
          if redis.call('EXISTS', kkey(tid)) == 1 or redis.call('HEXISTS', tk, tid) == 1 then
            return redis.error_reply('ERR tessera: a new token id collided with a stored one')
          end
        end
        old.r = ARGV[11]
        old.s = ARGV[9]
        redis.call('HSET', tk, ARGV[4], cjson.encode(old))
        local pj = redis.call('HGET', tk, old.p)
        if pj then
          local paired = cjson.decode(pj)
          if not paired.r then
            paired.r = ARGV[11]
            redis.call('HSET', tk, old.p, cjson.encode(paired))
          end
        end
        local cutoff = tonumber(ARGV[13])
        local all = redis.call('HGETALL', tk)
        for i = 1, #all, 2 do
          local tj = cjson.decode(all[i + 1])
          if tj.r and tonumber(tj.e) < cutoff and all[i] ~= ARGV[4] then
            redis.call('HDEL', tk, all[i])
            local kk = kkey(all[i])
            if redis.call('GET', kk) == sid then redis.call('DEL', kk) end
          end
        end
        local t = life(sk, abs)
        redis.call('HSET', tk, ARGV[7], ARGV[8], ARGV[9], ARGV[10])
        redis.call('PEXPIRE', tk, t)
        redis.call('SET', kkey(ARGV[7]), sid, 'PX', t)
        redis.call('SET', kkey(ARGV[9]), sid, 'PX', t)
        local ni = math.min(tonumber(ARGV[12]), abs)
        if ni > idle then
          redis.call('HSET', sk, 'm:i', fmt(ni))
          local e = fmt(math.min(ni, abs))
          redis.call('ZADD', XKEY, e, sid)
          redis.call('ZADD', AKEY, e, sid)
          redis.call('ZADD', NKEY, 'XX', e, sid)
        end
        redis.call('HSET', sk, 'm:l', ARGV[11])
        return 0
        """);

    /// <summary>Every script, to load on a new connection.</summary>
    public static readonly RedisScript[] All = [Create, LoadByCredential, Apply, Touch, Revoke, Delete, DeleteBatch, ListBySubject, TrimSubject, CreateTokens, LoadToken, LoadRefreshToken, Rotate];
}
