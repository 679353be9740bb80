namespace Tessera.Redis;

/// <summary>
/// The store's Lua scripts. Each script touches one Redis Cluster slot only: the keys of one session bucket (a session's
/// hash, its tokens, its credential and token pointers and the bucket's expiry indexes), so its checks ("only if live",
/// "only if not revoked") and its writes run atomically on a single node and on a cluster alike.
/// </summary>
/// <remarks>
/// Every script gets <c>ARGV[1]</c> = the bucket's key base (<c>P:{bNNN}</c>), <c>ARGV[2]</c> = the store's now (unix
/// ms, from its <see cref="TimeProvider"/>, never Redis's clock), <c>ARGV[3]</c> = the expiry margin (ms). The credential
/// lookup reads no clock and gets <c>ARGV[1]</c> only. Times are unix
/// milliseconds kept as decimal strings. <c>KEYS[1]</c> is the key the operation starts from; the other keys are built
/// from the base, so they share its hash tag and slot. The subject indexes and the anonymous set live on other slots and
/// are written by the store around these scripts (see <see cref="RedisSessionStore"/>).
/// </remarks>
internal static partial class RedisScripts
{
    private const string Prelude = """
        local B = ARGV[1]
        local NOW = tonumber(ARGV[2])
        local MARGIN = tonumber(ARGV[3])
        local function skey(id) return B .. ':s:' .. id end
        local function tkey(id) return B .. ':t:' .. id end
        local function ckey(hex) return B .. ':c:' .. hex end
        local function kkey(tid) return B .. ':k:' .. tid end
        local XKEY = B .. ':x'
        local AKEY = B .. ':a'
        local RKEY = B .. ':r'
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
        local function unlink(ck, id)
          if redis.call('GET', ck) == id then redis.call('DEL', ck) end
        end
        local function purge(id, out)
          local sk, tk = skey(id), tkey(id)
          local m = redis.call('HMGET', sk, 'm:ch', 'm:sub')
          local existed = redis.call('DEL', sk)
          for _, tid in ipairs(redis.call('HKEYS', tk)) do unlink(kkey(tid), id) end
          redis.call('DEL', tk)
          if m[1] then unlink(ckey(m[1]), id) end
          redis.call('ZREM', XKEY, id)
          redis.call('ZREM', AKEY, id)
          redis.call('ZREM', RKEY, id)
          if existed == 1 then
            out[#out + 1] = id
            out[#out + 1] = m[2] or ''
          end
          return existed
        end

        """;

    // The request-path reads need only the key names: Redis runs a script's whole text on every call, so they skip the
    // full prelude's functions (defining them is most of a small script's cost in Redis).
    private const string ReadPrelude = """
        local B = ARGV[1]
        local function skey(id) return B .. ':s:' .. id end
        local function tkey(id) return B .. ':t:' .. id end

        """;

    /// <summary>
    /// ARGV 4.. = id, credential hex, expiresAt, absoluteExpiresAt, then the hash's field/value pairs. Returns 1, or 0
    /// when the id or the credential is taken.
    /// </summary>
    public const string Create = Prelude + """
        local sk, id, cred = KEYS[1], ARGV[4], ARGV[5]
        if redis.call('EXISTS', sk) == 1 or redis.call('EXISTS', ckey(cred)) == 1 then return 0 end
        chunked('HSET', sk, 8, #ARGV)
        local t = life(sk, tonumber(ARGV[7]))
        redis.call('PEXPIRE', sk, t)
        redis.call('SET', ckey(cred), id, 'PX', t)
        redis.call('ZADD', XKEY, ARGV[6], id)
        redis.call('ZADD', AKEY, ARGV[6], id)
        return 1
        """;

    /// <summary>
    /// KEYS[1] = credential pointer. Returns the session id and HGETALL packed in one string, or nil; the caller checks
    /// that the session's credential is the one it looked up (the hash holds it), so Redis runs two commands, not three.
    /// </summary>
    public const string LoadByCredential = ReadPrelude + """
        local id = redis.call('GET', KEYS[1])
        if not id then return false end
        return cmsgpack.pack(id, redis.call('HGETALL', skey(id)))
        """;

    /// <summary>
    /// <see cref="LoadByCredential"/> for many credentials at once (<see cref="RedisRequestBatcher"/> combines the lookups
    /// that wait together, on a single node or a Sentinel primary): KEYS[i] = a credential pointer, ARGV[i] = its bucket base.
    /// Returns, for each key in order, what <see cref="LoadByCredential"/> returns.
    /// </summary>
    public const string LoadByCredentials = """
        local out = {}
        for i, k in ipairs(KEYS) do
          local id = redis.call('GET', k)
          if id then out[i] = cmsgpack.pack(id, redis.call('HGETALL', ARGV[i] .. ':s:' .. id)) else out[i] = false end
        end
        return out
        """;

    /// <summary>
    /// ARGV 4.. = id, clear (1/0), subject changed (1/0), has subject (1/0), subject, new credential hex or '',
    /// last seen or '', idle expiry or '', removed count n, n removed fields ('d:' prefixed), then set pairs.
    /// Returns {1, old subject or '', expiry}, {0} (not live) or {-1} (new credential taken).
    /// </summary>
    public const string Apply = Prelude + """
        local sk, id = KEYS[1], ARGV[4]
        local idle, abs = live(sk)
        if not idle then return {0} end
        local m = redis.call('HMGET', sk, 'm:ch', 'm:sub')
        local newc = ARGV[9]
        if newc ~= '' then
          if redis.call('EXISTS', ckey(newc)) == 1 then return {-1} end
          unlink(ckey(m[1]), id)
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
          if ARGV[7] == '1' then redis.call('HSET', sk, 'm:sub', ARGV[8]) else redis.call('HDEL', sk, 'm:sub') end
        end
        if ARGV[10] ~= '' then redis.call('HSET', sk, 'm:l', ARGV[10]) end
        local e = fmt(math.min(idle, abs))
        if ARGV[11] ~= '' then
          redis.call('HSET', sk, 'm:i', ARGV[11])
          e = fmt(math.min(tonumber(ARGV[11]), abs))
          redis.call('ZADD', XKEY, e, id)
          redis.call('ZADD', AKEY, e, id)
        end
        return {1, m[2] or '', e}
        """;

    /// <summary>ARGV 4.. = id, last seen, idle expiry. Returns {1, anonymous (1/0), expiry}, or {0} when not live.</summary>
    public const string Touch = Prelude + """
        local sk, id = KEYS[1], ARGV[4]
        local idle, abs = live(sk)
        if not idle then return {0} end
        redis.call('HSET', sk, 'm:l', ARGV[5], 'm:i', ARGV[6])
        local e = fmt(math.min(tonumber(ARGV[6]), abs))
        redis.call('ZADD', XKEY, e, id)
        redis.call('ZADD', AKEY, e, id)
        local anonymous = 0
        if redis.call('HEXISTS', sk, 'm:sub') == 0 then anonymous = 1 end
        return {1, anonymous, e}
        """;

    /// <summary>ARGV 4.. = id, revokedAt. Returns 1, or 0 when missing or already revoked.</summary>
    public const string Revoke = Prelude + """
        local sk, id = KEYS[1], ARGV[4]
        local m = redis.call('HMGET', sk, 'm:a', 'm:r', 'm:ch')
        if not m[1] or m[2] then return 0 end
        redis.call('HSET', sk, 'm:r', ARGV[5])
        unlink(ckey(m[3]), id)
        redis.call('ZREM', AKEY, id)
        redis.call('ZADD', RKEY, ARGV[5], id)
        return 1
        """;

    /// <summary>ARGV 4 = id. Returns {1 when the session's hash existed else 0, then id and subject or '' when it did}.</summary>
    public const string Delete = Prelude + """
        local out = {0}
        out[1] = purge(ARGV[4], out)
        return out
        """;

    /// <summary>
    /// KEYS[1] = the bucket's index ('x' expiry or 'r' revocation); ARGV 4.. = cut-off (inclusive), batch size.
    /// Deletes those sessions; returns {how many index entries were visited, id, subject or '', ...} of each session deleted.
    /// </summary>
    public const string DeleteBatch = Prelude + """
        local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4], 'LIMIT', 0, tonumber(ARGV[5]))
        local out = {#ids}
        for _, id in ipairs(ids) do purge(id, out) end
        return out
        """;

    /// <summary>ARGV 4.. = session id, access id, access JSON, refresh id, refresh JSON. Returns 1, or 0 (not live or id taken).</summary>
    public const string CreateTokens = Prelude + """
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
        """;

    /// <summary>
    /// KEYS[1] = token pointer; ARGV 4 = token id. Returns the session id, the token JSON and HGETALL of the session packed
    /// in one string, or nil.
    /// </summary>
    public const string LoadToken = ReadPrelude + """
        local sid = redis.call('GET', KEYS[1])
        if not sid then return false end
        local tj = redis.call('HGET', tkey(sid), ARGV[4])
        if not tj then return false end
        return cmsgpack.pack(sid, tj, redis.call('HGETALL', skey(sid)))
        """;

    /// <summary>
    /// <see cref="LoadToken"/> for many tokens at once (combined as <see cref="LoadByCredentials"/> is): KEYS[i] = a token
    /// pointer, ARGV[2i-1] = its bucket base, ARGV[2i] = its token id. Returns, for each key in order, what
    /// <see cref="LoadToken"/> returns.
    /// </summary>
    public const string LoadTokens = """
        local out = {}
        for i, k in ipairs(KEYS) do
          local b, tid = ARGV[2 * i - 1], ARGV[2 * i]
          local sid = redis.call('GET', k)
          local tj = sid and redis.call('HGET', b .. ':t:' .. sid, tid)
          if tj then out[i] = cmsgpack.pack(sid, tj, redis.call('HGETALL', b .. ':s:' .. sid)) else out[i] = false end
        end
        return out
        """;

    /// <summary>
    /// KEYS[1] = token pointer; ARGV 4 = token id. Returns {session id, token JSON, HGETALL of the session, successor
    /// id, successor JSON, successor's access id, that token's JSON} (the last four false when missing) or nil: the
    /// token and its successor pair read in one script, so at one moment.
    /// </summary>
    public const string LoadRefreshToken = ReadPrelude + """
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
        """;

    /// <summary>
    /// KEYS[1] = the old refresh token's pointer. ARGV 4.. = old refresh id, new access session id, new refresh session
    /// id, new access id, new access JSON, new refresh id, new refresh JSON, rotation time, new refresh expiry, and the
    /// cutoff before which the session's rotated tokens are dropped (they expired and can never be presented again),
    /// and whether the new ids carry the session's route (1/0). Returns {0, anonymous (1/0), expiry or ''} rotated, {1}
    /// already revoked, {2} not found, {3} session not live; an error when a new id is taken or off the route.
    /// </summary>
    public const string Rotate = Prelude + """
        local sid = redis.call('GET', KEYS[1])
        if not sid then return {2} end
        local tk = tkey(sid)
        local oj = redis.call('HGET', tk, ARGV[4])
        if not oj then return {2} end
        local old = cjson.decode(oj)
        if old.k ~= 1 then return {2} end
        if old.r then return {1} end
        if ARGV[5] ~= sid or ARGV[6] ~= sid then return {3} end
        local sk = skey(sid)
        local idle, abs = live(sk)
        if not idle then return {3} end
        if ARGV[14] ~= '1' then return redis.error_reply('ERR tessera: new token ids off the route') end
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
            unlink(kkey(all[i]), sid)
          end
        end
        local t = life(sk, abs)
        redis.call('HSET', tk, ARGV[7], ARGV[8], ARGV[9], ARGV[10])
        redis.call('PEXPIRE', tk, t)
        redis.call('SET', kkey(ARGV[7]), sid, 'PX', t)
        redis.call('SET', kkey(ARGV[9]), sid, 'PX', t)
        local ni = math.min(tonumber(ARGV[12]), abs)
        local e = ''
        if ni > idle then
          redis.call('HSET', sk, 'm:i', fmt(ni))
          e = fmt(math.min(ni, abs))
          redis.call('ZADD', XKEY, e, sid)
          redis.call('ZADD', AKEY, e, sid)
        end
        redis.call('HSET', sk, 'm:l', ARGV[11])
        local anonymous = 0
        if redis.call('HEXISTS', sk, 'm:sub') == 0 then anonymous = 1 end
        return {0, anonymous, e}
        """;

    /// <summary>KEYS[1] = a subject's trim lock; ARGV[1] = its holder. Deletes the lock only if that holder still holds it.</summary>
    public const string ReleaseLock = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    /// <summary>
    /// KEYS[1] = the anonymous set (its own slot); ARGV 1.. = now, session id, its expiry, the bound. Adds the session when
    /// fewer than the bound are live; returns 1 added, 0 at the bound. Entries past their expiry are dropped on the way.
    /// </summary>
    public const string ReserveAnonymous = """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
        redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
        return 1
        """;
}
