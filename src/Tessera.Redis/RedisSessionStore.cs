using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.Redis.Resp;

namespace Tessera.Redis;

/// <summary>
/// A store on Redis, shared by every app instance that points at the same server: sessions survive an app restart,
/// and a Redis restart when Redis persists (<c>appendonly yes</c>).
/// </summary>
/// <remarks>
/// <para>
/// Key layout (<c>P</c> is <see cref="RedisSessionStoreOptions.KeyPrefix"/>, <c>{id}</c> a hash tag of the session id):
/// <list type="bullet">
/// <item><c>P:s:{id}</c>: a hash per session. Data keys are fields <c>d:&lt;key&gt;</c> holding the JSON text as given;
/// metadata fields start with <c>m:</c> (<c>m:ch</c> credential SHA-256 in hex, <c>m:sub</c>, <c>m:c</c> created,
/// <c>m:l</c> last seen, <c>m:i</c> idle expiry, <c>m:a</c> absolute expiry, <c>m:r</c> revoked, <c>m:ua</c>,
/// <c>m:ip</c>, <c>m:lb</c>), so the two never clash. Times are unix milliseconds.</item>
/// <item><c>P:t:{id}</c>: a hash of the session's tokens, token id to a small JSON record (revoked ones stay as tombstones).</item>
/// <item><c>P:c:&lt;hex sha-256&gt;</c>: the current credential, pointing at the session id (gone once revoked or regenerated).</item>
/// <item><c>P:k:&lt;token id&gt;</c>: each token, pointing at its session id (a token is looked up by id alone).</item>
/// <item><c>P:u:&lt;subject&gt;</c>: a sorted set of the subject's session ids by creation time, for listing.</item>
/// <item><c>P:x</c>, <c>P:a</c>, <c>P:r</c>: sorted sets of session ids by expiry (all sessions), by expiry (sessions
/// not revoked) and by revocation time, so cleanup and counting cost O(log n) per session.</item>
/// </list>
/// </para>
/// <para>
/// Every write is one Lua script (one round trip), so checks and changes are atomic: a patch is applied only to a live
/// session, a refresh token is rotated only if not revoked (exactly one of concurrent rotations wins). A read is one
/// round trip too: <c>HGETALL</c>, <c>ZCOUNT</c>, or a script that follows a pointer key to the session hash. Scripts
/// are sent by SHA-1 (<c>EVALSHA</c>); a store that opens its own connection loads them when it connects, so only the
/// first use of a script after a Redis restart (or on a connection passed in by the caller) adds one <c>EVAL</c>. A read
/// that fails because the connection broke is retried once; a write never is (it may have run).
/// </para>
/// <para>
/// Expiry is decided by the store's <see cref="TimeProvider"/>, never by Redis's clock: scripts compare stored times
/// with the store's now. Redis's own expiry is only a garbage-collection safety net: each key gets a time to live of
/// the session's remaining absolute lifetime (by the store's clock) plus <see cref="RedisSessionStoreOptions.ExpiryMargin"/>,
/// set relative to Redis's clock, so a clock difference between app and Redis never removes a live session. The
/// indexes are sorted sets without expiry; <see cref="DeleteExpiredAsync"/> keeps them small. The store sends no
/// <c>CONFIG</c> command and needs no keyspace notifications.
/// </para>
/// <para>
/// Redis Cluster: a session's hash and its token hash share the hash tag <c>{id}</c>, so they live on one slot, but
/// pointer keys (credential, token) and the indexes live on other slots, and the scripts reach them by names derived
/// at run time; a cluster refuses such cross-slot scripts. With the default prefix the store therefore needs a single
/// Redis node (with replicas if wanted, or Sentinel). On a cluster, make the prefix itself a hash tag (for example
/// <c>{tessera}</c>): every key then hashes to that one slot, every script is single-slot and the store works, but all
/// sessions live on one shard. The store is unbounded: size Redis with <c>maxmemory</c> and run the cleanup service; a
/// <c>volatile-*</c> eviction policy may evict whole sessions (their keys all carry a time to live), and
/// <c>noeviction</c> makes writes fail when memory is full.
/// </para>
/// <para>
/// The file is split by capability: sessions here; <c>.Cleanup.cs</c>, <c>.SubjectLimit.cs</c> (per-user listing and
/// limits), <c>.Tokens.cs</c>, <c>.Administration.cs</c>, <c>.Connections.cs</c> (connecting and running scripts) and
/// <c>.Records.cs</c> (hashes to records); the Lua is in <see cref="RedisScripts"/>.
/// </para>
/// </remarks>
public sealed partial class RedisSessionStore : ISessionStore, IAsyncDisposable, IDisposable
{
    private readonly RedisSessionStoreOptions _options;
    private readonly RedisOptions? _connectionOptions;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly string _prefix;
    private readonly long _marginMs;
    private RedisConnection? _connection;
    private Task<RedisConnection>? _connecting;
    private int _disposed;

    /// <summary>Creates a store over a connection the caller owns (the store never disposes it).</summary>
    /// <param name="connection">The Redis connection; its database is the one selected by its options.</param>
    /// <param name="options">Key prefix and expiry margin; validated here. <see cref="RedisSessionStoreOptions.ConnectionString"/> is ignored.</param>
    /// <param name="timeProvider">The clock that decides expiry; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="logger">The logger; <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public RedisSessionStore(RedisConnection connection, RedisSessionStoreOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(options ?? new RedisSessionStoreOptions(), null, timeProvider, logger)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connection = connection;
    }

    /// <summary>
    /// Creates a store that opens (and disposes) its own connection from <see cref="RedisSessionStoreOptions.ConnectionString"/>.
    /// Nothing is sent until the first operation, which connects and loads the scripts; a failed connection is retried by
    /// the next operation.
    /// </summary>
    /// <param name="options">The connection string, key prefix and expiry margin; validated here.</param>
    /// <param name="timeProvider">The clock that decides expiry; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="logger">The logger (connection loss and recovery are logged too); <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentException">The connection string is missing or an option is invalid.</exception>
    /// <exception cref="FormatException">The connection string is malformed.</exception>
    public RedisSessionStore(RedisSessionStoreOptions options, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(options, ParseConnectionString(options), timeProvider, logger)
    {
    }

    private RedisSessionStore(RedisSessionStoreOptions options, RedisOptions? connectionOptions, TimeProvider? timeProvider, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _options.Validate();
        _connectionOptions = connectionOptions;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _prefix = _options.KeyPrefix;
        _marginMs = (long)_options.ExpiryMargin.TotalMilliseconds;
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
        var credential = Convert.ToHexStringLower(record.CredentialHash);
        var args = Args(13 + 2 * (10 + record.Data.Count));
        args.Add(record.Id);
        args.Add(credential);
        args.Add(record.Subject ?? "");
        args.Add(record.Subject is null ? "0" : "1");
        args.Add(Ms(record.CreatedAt));
        args.Add(Ms(record.ExpiresAt));
        args.Add(Ms(record.AbsoluteExpiresAt));
        args.Add(_options.MaxAnonymousSessions is { } maxAnonymous ? maxAnonymous.ToString(CultureInfo.InvariantCulture) : "");
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
        var result = await EvalAsync(RedisScripts.Create, SessionKey(record.Id), args, cancellationToken).ConfigureAwait(false);
        return result.AsInt64() switch
        {
            1 => true,
            -2 => throw new SessionStoreFullException($"The Redis session store holds its maximum of {_options.MaxAnonymousSessions} live anonymous sessions."),
            _ => false,
        };
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var key = SessionKey(id);
        var reply = await ReadAsync(c => c.ExecuteAsync("HGETALL", [key], cancellationToken), cancellationToken).ConfigureAwait(false);
        return LiveOrNull(ParseSession(id, reply));
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default)
    {
        var hex = Convert.ToHexStringLower(credentialHash.Span);
        var args = Args(1);
        args.Add(hex);
        var reply = await ReadAsync(c => Eval(c, RedisScripts.LoadByCredential, $"{_prefix}:c:{hex}", args, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (reply.IsNull)
        {
            return null;
        }
        var parts = reply.AsArray()!;
        return LiveOrNull(ParseSession(parts[0].AsString()!, parts[1]));
    }

    /// <inheritdoc />
    public async ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(patch);
        var args = Args(10 + patch.Removed.Count + 2 * patch.Set.Count);
        args.Add(id);
        args.Add(patch.ClearData ? "1" : "0");
        args.Add(patch.SubjectChanged ? "1" : "0");
        args.Add(patch.Subject is null ? "0" : "1");
        args.Add(patch.Subject ?? "");
        args.Add(patch.NewCredentialHash is { } hash ? Convert.ToHexStringLower(hash) : "");
        args.Add(patch.LastSeenAt is { } seen ? Ms(seen) : "");
        args.Add(patch.IdleExpiresAt is { } idle ? Ms(idle) : "");
        args.Add(patch.Removed.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var key in patch.Removed)
        {
            args.Add("d:" + key);
        }
        foreach (var (key, json) in patch.Set)
        {
            args.Add("d:" + key);
            args.Add(json);
        }
        var result = (await EvalAsync(RedisScripts.Apply, SessionKey(id), args, cancellationToken).ConfigureAwait(false)).AsInt64();
        if (result == -1)
        {
            Log.CredentialCollision(_logger, SessionIdReference.Of(id));
        }
        return result == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var args = Args(3);
        args.Add(id);
        args.Add(Ms(lastSeenAt));
        args.Add(Ms(idleExpiresAt));
        return (await EvalAsync(RedisScripts.Touch, SessionKey(id), args, cancellationToken).ConfigureAwait(false)).AsInt64() == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var args = Args(2);
        args.Add(id);
        args.Add(Ms(revokedAt));
        return (await EvalAsync(RedisScripts.Revoke, SessionKey(id), args, cancellationToken).ConfigureAwait(false)).AsInt64() == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var args = Args(1);
        args.Add(id);
        return (await EvalAsync(RedisScripts.Delete, SessionKey(id), args, cancellationToken).ConfigureAwait(false)).AsInt64() == 1;
    }


    /// <summary>Closes the store's own connection (a connection passed in by the caller is left open). Safe to call twice.</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || _connectionOptions is null)
        {
            return;
        }
        Task<RedisConnection>? connecting;
        lock (_gate)
        {
            connecting = _connecting;
        }
        if (connecting is not null)
        {
            try
            {
                await (await connecting.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisConnectionException or RedisServerException or TimeoutException or OperationCanceledException)
            {
                // It never connected: nothing to close.
            }
        }
    }

    /// <summary>Closes the store's own connection synchronously; prefer <see cref="DisposeAsync"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private string SessionKey(string id) => $"{_prefix}:s:{{{id}}}";

    /// <summary>The script arguments every script starts with: prefix, the store's now, the expiry margin.</summary>
    private List<RedisArg> Args(int more) =>
        new(3 + more) { _prefix, Ms(_time.GetUtcNow()), _marginMs.ToString(CultureInfo.InvariantCulture) };

    private SessionRecord? LiveOrNull(SessionRecord? record) => record is not null && record.IsActiveAt(_time.GetUtcNow()) ? record : null;
}
