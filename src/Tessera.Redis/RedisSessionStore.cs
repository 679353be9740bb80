using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Tessera.Redis;

/// <summary>
/// A store on Redis over StackExchange.Redis, shared by every app instance that points at the same Redis: a single node,
/// a primary with replicas behind Sentinel, or a Redis Cluster, where sessions spread over every primary. Sessions
/// survive an app restart, and a Redis restart when Redis persists (<c>appendonly yes</c>).
/// </summary>
/// <remarks>
/// <para>
/// Key layout (<c>P</c> is <see cref="RedisSessionStoreOptions.KeyPrefix"/>). Every session belongs to one of
/// <see cref="BucketCount"/> buckets, chosen by its <see cref="SessionRoute"/> (a pure function of its id, carried by
/// every cookie credential and token id the session hands out), and every key of a session carries its bucket's hash tag
/// <c>{bNNN}</c>, so it sits on one Redis Cluster slot:
/// <list type="bullet">
/// <item><c>P:{bNNN}:s:&lt;id&gt;</c>: a hash per session. Data keys are fields <c>d:&lt;key&gt;</c> holding the JSON
/// text as given; metadata fields start with <c>m:</c> (<c>m:ch</c> credential SHA-256 in hex, <c>m:sub</c>, <c>m:c</c>
/// created, <c>m:l</c> last seen, <c>m:i</c> idle expiry, <c>m:a</c> absolute expiry, <c>m:r</c> revoked, <c>m:ua</c>,
/// <c>m:ip</c>, <c>m:lb</c>). Times are unix milliseconds.</item>
/// <item><c>P:{bNNN}:t:&lt;id&gt;</c>: the session's tokens, token id to a small JSON record (revoked ones stay as tombstones).</item>
/// <item><c>P:{bNNN}:c:&lt;hex sha-256&gt;</c>: the current credential, pointing at the session id.</item>
/// <item><c>P:{bNNN}:k:&lt;token id&gt;</c>: each token, pointing at its session id.</item>
/// <item><c>P:{bNNN}:x</c>, <c>:a</c>, <c>:r</c>: the bucket's sorted sets of session ids by expiry (all), by expiry
/// (not revoked) and by revocation time, for cleanup and counting.</item>
/// <item><c>P:u:{&lt;subject&gt;}</c>: a sorted set of the subject's session ids by creation time, on the subject's own slot.</item>
/// <item><c>P:n</c>: the live anonymous sessions by expiry, for <see cref="RedisSessionStoreOptions.MaxAnonymousSessions"/> (only kept when bounded).</item>
/// </list>
/// </para>
/// <para>
/// What is atomic: every change to one session (its hash, tokens, pointers and its bucket's indexes) is one Lua script on
/// its slot: a patch is applied only to a live session, a refresh token is rotated only if not revoked (exactly one of
/// concurrent rotations wins). The subject index and the anonymous set live on other slots, so they are written by
/// separate commands around the script, in an order that errs on the safe side: a session is added to its subject's
/// index before it is created (a revoke-all that starts after a sign-in returned always finds it), listing skips ids
/// whose session is gone, and cleanup removes such entries. <c>docs/redis.md</c> says what is repaired and when.
/// </para>
/// <para>
/// Expiry is decided by the store's <see cref="TimeProvider"/>, never by Redis's clock: scripts compare stored times
/// with the store's now. Redis's own expiry is only a garbage-collection safety net: each key gets a time to live of
/// the session's remaining absolute lifetime (by the store's clock) plus <see cref="RedisSessionStoreOptions.ExpiryMargin"/>.
/// The store sends no <c>CONFIG</c> command and needs no keyspace notifications. The store is unbounded: size Redis with
/// <c>maxmemory</c> and run the cleanup service; a <c>volatile-*</c> eviction policy may evict whole sessions, and
/// <c>noeviction</c> makes writes fail when memory is full.
/// </para>
/// <para>
/// The file is split by capability: sessions here; <c>.Cleanup.cs</c>, <c>.SubjectLimit.cs</c>, <c>.Tokens.cs</c>,
/// <c>.Administration.cs</c>, <c>.Connections.cs</c> (the multiplexer, scripts and replica acknowledgements) and
/// <c>.Records.cs</c>; the Lua is in <see cref="RedisScripts"/>.
/// </para>
/// </remarks>
public sealed partial class RedisSessionStore : ISessionStore, IRoutedSessionStore, IAsyncDisposable, IDisposable
{
    /// <summary>
    /// How many buckets the sessions are spread over: 1,024, each its own hash tag (so on a cluster each is one slot,
    /// and the buckets spread over the primaries). Fixed: changing it would move every session.
    /// </summary>
    public const int BucketCount = 1024;

    private readonly RedisSessionStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _prefix;
    private readonly string[] _bases;
    private readonly RedisKey _anonymousKey;
    private readonly long _marginMs;
    private readonly RedisRequestBatcher _batcher = new();
    private readonly RedisCredentialPointers _pointers;
    private long _rememberedReads;

    /// <summary>
    /// Creates a store over a multiplexer the caller owns (the store never disposes it; its default database is used).
    /// With <see cref="RedisSessionStoreOptions.ReplicaAcknowledgements"/> above 0, the store opens one more connection
    /// of its own from <see cref="RedisSessionStoreOptions.Configuration"/> or <see cref="RedisSessionStoreOptions.ConnectionString"/>, which is then required.
    /// </summary>
    /// <param name="connection">The multiplexer (a single node, Sentinel or a cluster).</param>
    /// <param name="options">Key prefix, expiry margin and bounds; validated here. The connection settings are ignored unless replica acknowledgements need them.</param>
    /// <param name="timeProvider">The clock that decides expiry; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="logger">The logger (the store's own logs; connection loss and recovery of the given multiplexer are the app's to log); <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="connection"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public RedisSessionStore(IConnectionMultiplexer connection, RedisSessionStoreOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(options ?? new RedisSessionStoreOptions(), timeProvider, logger, connection ?? throw new ArgumentNullException(nameof(connection)))
    {
    }

    /// <summary>
    /// Creates a store that opens (and disposes) its own multiplexer from <see cref="RedisSessionStoreOptions.Configuration"/>
    /// or <see cref="RedisSessionStoreOptions.ConnectionString"/>. Nothing is sent until the first operation, which
    /// connects; a failed connection is retried by the next operation.
    /// </summary>
    /// <param name="options">The connection, key prefix, expiry margin and bounds; validated here.</param>
    /// <param name="timeProvider">The clock that decides expiry; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="logger">The logger (connection loss and recovery are logged too); <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentException">No connection is configured, the connection string is malformed, or an option is invalid.</exception>
    public RedisSessionStore(RedisSessionStoreOptions options, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(options, timeProvider, logger, null)
    {
    }

    private RedisSessionStore(RedisSessionStoreOptions options, TimeProvider? timeProvider, ILogger? logger, IConnectionMultiplexer? given)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _options.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _prefix = _options.KeyPrefix;
        _marginMs = (long)_options.ExpiryMargin.TotalMilliseconds;
        _bases = new string[BucketCount];
        for (var i = 0; i < BucketCount; i++)
        {
            _bases[i] = string.Create(CultureInfo.InvariantCulture, $"{_prefix}:{{b{i:x3}}}");
        }
        _anonymousKey = _prefix + ":n";
        _pointers = new RedisCredentialPointers(_options.CredentialLookupCacheSize, _time);
        _ownConfiguration = given is null || _options.ReplicaAcknowledgements > 0 ? _options.ConfigurationOrThrow() : null;
        // A handed-over multiplexer's connection events are the app's to log: the store subscribes to its own only, so
        // that stores made and dropped over one app multiplexer leave no handlers behind on it.
        _connection = given;
        _ownsConnection = given is null;
    }

    /// <summary>The prefix of every key this store writes.</summary>
    public string KeyPrefix => _prefix;

    /// <inheritdoc />
    public async ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.RevokedAt is not null)
        {
            throw new ArgumentException("A new session cannot be revoked.", nameof(record));
        }
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var expires = Ms(record.ExpiresAt);
        // The anonymous bound first (its own slot): a reservation the create then fills, or gives back if it fails.
        if (record.Subject is null && _options.MaxAnonymousSessions is { } max)
        {
            var reserved = (long)await db.ScriptEvaluateAsync(RedisScripts.ReserveAnonymous, [_anonymousKey],
                [Ms(_time.GetUtcNow()), record.Id, expires, max]).ConfigureAwait(false);
            if (reserved == 0)
            {
                throw new SessionStoreFullException($"The Redis session store holds its maximum of {max} live anonymous sessions.");
            }
        }
        // The subject's index before the session: a revoke-all that starts after this sign-in returned finds it.
        var indexed = record.Subject is not null
            && await db.SortedSetAddAsync(SubjectKey(record.Subject), record.Id, record.CreatedAt.ToUnixTimeMilliseconds(), SortedSetWhen.NotExists).ConfigureAwait(false);
        var credential = Convert.ToHexStringLower(record.CredentialHash);
        var args = Args(record.Id, 4 + 2 * (10 + record.Data.Count));
        args.Add(record.Id);
        args.Add(credential);
        args.Add(expires);
        args.Add(Ms(record.AbsoluteExpiresAt));
        args.Add("m:ch");
        args.Add(credential);
        args.Add("m:c");
        args.Add(Ms(record.CreatedAt));
        args.Add("m:l");
        args.Add(Ms(record.LastSeenAt));
        args.Add("m:i");
        args.Add(Ms(record.IdleExpiresAt));
        args.Add("m:a");
        args.Add(Ms(record.AbsoluteExpiresAt));
        AddOptional(args, "m:sub", record.Subject);
        AddOptional(args, "m:ua", record.Metadata.UserAgent);
        AddOptional(args, "m:ip", record.Metadata.IpAddress);
        AddOptional(args, "m:lb", record.Metadata.Label);
        foreach (var (key, json) in record.Data)
        {
            args.Add("d:" + key);
            args.Add(json);
        }
        var created = (long)await WriteAsync(db, RedisScripts.Create, SessionKey(record.Id), args).ConfigureAwait(false) == 1;
        if (!created)
        {
            // Give back what was taken on the other slots for a session that was never stored.
            if (indexed)
            {
                await db.SortedSetRemoveAsync(SubjectKey(record.Subject!), record.Id).ConfigureAwait(false);
            }
            if (record.Subject is null && _options.MaxAnonymousSessions is not null)
            {
                await db.SortedSetRemoveAsync(_anonymousKey, record.Id).ConfigureAwait(false);
            }
        }
        return created;
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return LiveOrNull(ParseSession(id, await ReadSessionHashAsync(id, cancellationToken).ConfigureAwait(false)));
    }

    // One HGETALL of the session's hash, sent with the other requests waiting now.
    private ValueTask<HashEntry[]> ReadSessionHashAsync(string id, CancellationToken cancellationToken) =>
        ReadAsync(static (db, s) => s.Batcher.HashGetAllAsync(db, s.Key), (Batcher: _batcher, Key: SessionKey(id)), cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// A credential is found on its session's slot, which only its route names: without it the store cannot know where
    /// to look, so this form throws. Tessera always calls <see cref="LoadByCredentialAsync(ReadOnlyMemory{byte}, SessionRoute, CancellationToken)"/>.
    /// </remarks>
    /// <exception cref="NotSupportedException">Always: use the routed form.</exception>
    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The Redis store finds a session by credential on its session's slot: call LoadByCredentialAsync(credentialHash, route, cancellationToken) with the route the credential carries.");

    /// <inheritdoc />
    /// <remarks>
    /// The first read of a credential runs the lookup script (the credential's pointer, then its session's hash); the
    /// store then remembers which session the credential found (<see cref="RedisSessionStoreOptions.CredentialLookupCacheSize"/>),
    /// and its next reads of that credential are one <c>HGETALL</c> of that session's hash, served only when the hash
    /// still holds this credential and the session is live. A session revoked, renewed or deleted by any instance, or
    /// expired, fails that check: the store forgets it and runs the script, which answers exactly as it would have.
    /// </remarks>
    public async ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, SessionRoute route, CancellationToken cancellationToken = default)
    {
        // Only on the route the credential carries: the script, looking in another bucket, would find nothing.
        if (_pointers.TryGet(credentialHash.Span, out var known) && ReferenceEquals(Base(route), Base(known)))
        {
            var remembered = Holding(ParseSession(known, await ReadSessionHashAsync(known, cancellationToken).ConfigureAwait(false)), credentialHash.Span);
            if (remembered is not null)
            {
                Interlocked.Increment(ref _rememberedReads);
                return remembered;
            }
            _pointers.Forget(credentialHash.Span);
        }
        var hex = Convert.ToHexStringLower(credentialHash.Span);
        var bucket = Base(route);
        RedisValue[] args = [bucket];
        RedisKey key = bucket + ":c:" + hex;
        var reply = await ReadAsync(static (db, s) => s.Batcher.EvaluateAsync(db, RedisScripts.LoadByCredential, s.Key, s.Args, RedisScripts.LoadByCredentials, s.Args), (Batcher: _batcher, Key: key, Args: args), cancellationToken).ConfigureAwait(false);
        var session = Holding(reply.IsNull ? null : ParseCredentialLookup(reply), credentialHash.Span);
        if (session is not null)
        {
            _pointers.Remember(credentialHash.Span, session.Id, session.AbsoluteExpiresAt);
        }
        return session;
    }

    // The session when it holds this credential and is live, else null (a pointer left to a session that now holds
    // another credential finds nothing).
    private SessionRecord? Holding(SessionRecord? session, ReadOnlySpan<byte> credentialHash) =>
        session is not null && session.CredentialHash.AsSpan().SequenceEqual(credentialHash) ? LiveOrNull(session) : null;

    // LoadByCredential's packed answer: the session id, then the session hash.
    private static SessionRecord? ParseCredentialLookup(RedisResult reply)
    {
        var packed = new RedisPackedReply(Bytes(reply).Span);
        var id = Text(packed.Read());
        return ParseSession(id, ref packed);
    }

    /// <inheritdoc />
    public async ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(patch);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        // A session that gains a subject is in the subject's index before it holds it (see CreateAsync).
        var indexed = patch.SubjectChanged && patch.Subject is not null
            && await db.SortedSetAddAsync(SubjectKey(patch.Subject), id, _time.GetUtcNow().ToUnixTimeMilliseconds(), SortedSetWhen.NotExists).ConfigureAwait(false);
        var args = Args(id, 9 + patch.Removed.Count + 2 * patch.Set.Count);
        args.Add(id);
        args.Add(patch.ClearData ? "1" : "0");
        args.Add(patch.SubjectChanged ? "1" : "0");
        args.Add(patch.Subject is null ? "0" : "1");
        args.Add(patch.Subject ?? "");
        args.Add(patch.NewCredentialHash is { } hash ? Convert.ToHexStringLower(hash) : "");
        args.Add(patch.LastSeenAt is { } seen ? Ms(seen) : "");
        args.Add(patch.IdleExpiresAt is { } idle ? Ms(idle) : "");
        args.Add(patch.Removed.Count);
        foreach (var key in patch.Removed)
        {
            args.Add("d:" + key);
        }
        foreach (var (key, json) in patch.Set)
        {
            args.Add("d:" + key);
            args.Add(json);
        }
        var reply = (RedisResult[])(await WriteAsync(db, RedisScripts.Apply, SessionKey(id), args).ConfigureAwait(false))!;
        var result = (long)reply[0];
        if (result != 1)
        {
            if (indexed)
            {
                await db.SortedSetRemoveAsync(SubjectKey(patch.Subject!), id).ConfigureAwait(false);
            }
            if (result == -1)
            {
                Log.CredentialCollision(_logger, SessionIdReference.Of(id));
            }
            return false;
        }
        if (patch.SubjectChanged)
        {
            var old = (string)reply[1]!;
            if (old.Length > 0 && !string.Equals(old, patch.Subject, StringComparison.Ordinal))
            {
                await db.SortedSetRemoveAsync(SubjectKey(old), id).ConfigureAwait(false);
            }
            if (_options.MaxAnonymousSessions is not null)
            {
                _ = patch.Subject is null
                    ? await db.SortedSetAddAsync(_anonymousKey, id, (long)reply[2]).ConfigureAwait(false)
                    : await db.SortedSetRemoveAsync(_anonymousKey, id).ConfigureAwait(false);
            }
        }
        else if (patch.IdleExpiresAt is not null && _options.MaxAnonymousSessions is not null)
        {
            await db.SortedSetUpdateAsync(_anonymousKey, id, (long)reply[2], SortedSetWhen.Exists).ConfigureAwait(false);
        }
        return true;
    }

    /// <inheritdoc />
    public async ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var args = Args(id, 3);
        args.Add(id);
        args.Add(Ms(lastSeenAt));
        args.Add(Ms(idleExpiresAt));
        var reply = (RedisResult[])(await WriteAsync(db, RedisScripts.Touch, SessionKey(id), args).ConfigureAwait(false))!;
        if ((long)reply[0] != 1)
        {
            return false;
        }
        if ((long)reply[1] == 1 && _options.MaxAnonymousSessions is not null)
        {
            await db.SortedSetUpdateAsync(_anonymousKey, id, (long)reply[2], SortedSetWhen.Exists).ConfigureAwait(false);
        }
        return true;
    }

    /// <inheritdoc />
    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var args = Args(id, 2);
        args.Add(id);
        args.Add(Ms(revokedAt));
        var revoked = (long)await WriteAsync(db, RedisScripts.Revoke, SessionKey(id), args).ConfigureAwait(false) == 1;
        if (revoked && _options.MaxAnonymousSessions is not null)
        {
            await db.SortedSetRemoveAsync(_anonymousKey, id).ConfigureAwait(false);
        }
        return revoked;
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var args = Args(id, 1);
        args.Add(id);
        var reply = (RedisResult[])(await WriteAsync(db, RedisScripts.Delete, SessionKey(id), args).ConfigureAwait(false))!;
        await ForgetAsync(db, reply, 1).ConfigureAwait(false);
        return (long)reply[0] == 1;
    }

    /// <summary>
    /// Removes the purged sessions of a script's reply (<c>id, subject or ''</c> pairs from <paramref name="offset"/>)
    /// from the indexes on other slots: their subjects' indexes and the anonymous set.
    /// </summary>
    private async Task ForgetAsync(IDatabase db, RedisResult[] reply, int offset)
    {
        var pending = new List<Task>();
        for (var i = offset; i + 1 < reply.Length; i += 2)
        {
            var id = (string)reply[i]!;
            var subject = (string)reply[i + 1]!;
            if (subject.Length > 0)
            {
                pending.Add(db.SortedSetRemoveAsync(SubjectKey(subject), id));
            }
            else if (_options.MaxAnonymousSessions is not null)
            {
                pending.Add(db.SortedSetRemoveAsync(_anonymousKey, id));
            }
        }
        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    /// <summary>How many combined lookup scripts (one for several credential or access-token lookups) the store sent; for tests.</summary>
    internal long CombinedLookups => _batcher.CombinedScripts;

    /// <summary>How many credential reads were served by one read of a remembered session's hash, without the lookup script; for tests.</summary>
    internal long RememberedCredentialReads => Interlocked.Read(ref _rememberedReads);

    /// <summary>How many credentials the store remembers now; for tests.</summary>
    internal int RememberedCredentials => _pointers.Count;

    /// <summary>The key base of a session's bucket: <c>P:{bNNN}</c>.</summary>
    internal string Base(SessionRoute route) => _bases[route.Value & (BucketCount - 1)];

    private string Base(string sessionId) => Base(SessionRoute.Of(sessionId));

    private RedisKey SessionKey(string id) => Base(id) + ":s:" + id;

    private RedisKey SubjectKey(string subject) => string.Concat(_prefix, ":u:{", subject, "}");

    /// <summary>The script arguments every script starts with: the session's bucket base, the store's now, the expiry margin.</summary>
    private List<RedisValue> Args(string sessionId, int more) =>
        new(3 + more) { Base(sessionId), Ms(_time.GetUtcNow()), _marginMs };

    private SessionRecord? LiveOrNull(SessionRecord? record) => record is not null && record.IsActiveAt(_time.GetUtcNow()) ? record : null;
}
