using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.Redis.Resp;
using Tessera.Tokens;

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
/// </remarks>
public sealed partial class RedisSessionStore : ISessionStore, ISessionStoreCleanup, ISessionStoreCounter, ISubjectSessionIndex, ISubjectSessionLimiter, ISessionTokenStore, IAsyncDisposable, IDisposable
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

    /// <summary>Where a second connection (the near cache's subscriber) connects to: the store's own server and credentials.</summary>
    internal RedisOptions SubscriberOptions => _connectionOptions ?? Volatile.Read(ref _connection)!.Options;

    /// <summary>Publishes <paramref name="message"/> on <paramref name="channel"/> over the store's connection.</summary>
    internal async ValueTask PublishAsync(string channel, string message, CancellationToken cancellationToken)
    {
        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("PUBLISH", [channel, message], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The connection in use, or <see langword="null"/> before the store has connected (for tests).</summary>
    internal RedisConnection? Connection => Volatile.Read(ref _connection);

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
            Log.CredentialCollision(_logger, Log.Ref(id));
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

    /// <inheritdoc />
    public ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return DeleteBatchAsync("x", Ms(_time.GetUtcNow()), batchSize, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return DeleteBatchAsync("r", Ms(revokedBefore), batchSize, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        var key = $"{_prefix}:a";
        var min = "(" + Ms(_time.GetUtcNow());
        var reply = await ReadAsync(c => c.ExecuteAsync("ZCOUNT", [key, min, "+inf"], cancellationToken), cancellationToken).ConfigureAwait(false);
        return reply.AsInt64();
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        var args = Args(0);
        var reply = await ReadAsync(c => Eval(c, RedisScripts.ListBySubject, $"{_prefix}:u:{subject}", args, cancellationToken), cancellationToken).ConfigureAwait(false);
        var parts = reply.AsArray() ?? [];
        var now = _time.GetUtcNow();
        var list = new List<SessionRecord>(parts.Count / 2);
        for (var i = 0; i + 1 < parts.Count; i += 2)
        {
            if (ParseSession(parts[i].AsString()!, parts[i + 1]) is { } record && record.IsActiveAt(now)
                && string.Equals(record.Subject, subject, StringComparison.Ordinal))
            {
                list.Add(record);
            }
        }
        // The set is ordered by creation time already; a stable sort keeps ties in the set's order.
        return list.OrderBy(r => r.CreatedAt).ToList();
    }

    /// <inheritdoc />
    /// <remarks>One Lua script over the subject's set: nothing interleaves with the ranking and the revocations.</remarks>
    public async ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        var args = Args(5);
        args.Add(subject);
        args.Add(keep.ToString(System.Globalization.CultureInfo.InvariantCulture));
        args.Add(order switch
        {
            SessionLimitOrder.OldestCreated => "c",
            SessionLimitOrder.NewcomerOnly => "n",
            _ => "s",
        });
        args.Add(mustKeepId ?? "");
        args.Add(Ms(revokedAt));
        var reply = await EvalAsync(RedisScripts.TrimSubject, $"{_prefix}:u:{subject}", args, cancellationToken).ConfigureAwait(false);
        return [.. (reply.AsArray() ?? []).Select(r => r.AsString()!)];
    }

    /// <inheritdoc />
    public async ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(access);
        ArgumentNullException.ThrowIfNull(refresh);
        if (!string.Equals(access.SessionId, refresh.SessionId, StringComparison.Ordinal) || string.Equals(access.Id, refresh.Id, StringComparison.Ordinal))
        {
            return false;
        }
        var args = Args(5);
        args.Add(access.SessionId);
        args.Add(access.Id);
        args.Add(EncodeToken(access));
        args.Add(refresh.Id);
        args.Add(EncodeToken(refresh));
        return (await EvalAsync(RedisScripts.CreateTokens, SessionKey(access.SessionId), args, cancellationToken).ConfigureAwait(false)).AsInt64() == 1;
    }

    /// <inheritdoc />
    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LoadTokenAsync(RedisScripts.LoadToken, tokenId, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One script: the token, its session and its successor pair, read at one moment.</remarks>
    public ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LoadTokenAsync(RedisScripts.LoadRefreshToken, tokenId, cancellationToken);

    // Both scripts answer {session id, token JSON, HGETALL of the session}; LoadRefreshToken adds the successor's id and
    // JSON and its access token's id and JSON (nulls when missing).
    private async ValueTask<TokenLookup?> LoadTokenAsync(RedisScript script, string tokenId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        var args = Args(1);
        args.Add(tokenId);
        var reply = await ReadAsync(c => Eval(c, script, $"{_prefix}:k:{tokenId}", args, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (reply.IsNull)
        {
            return null;
        }
        var parts = reply.AsArray()!;
        var sessionId = parts[0].AsString()!;
        return new TokenLookup(DecodeToken(tokenId, sessionId, parts[1].AsString()!), ParseSession(sessionId, parts[2]))
        {
            Successor = parts.Count < 7 || parts[4].IsNull ? null : DecodeToken(parts[3].AsString()!, sessionId, parts[4].AsString()!),
            SuccessorAccess = parts.Count < 7 || parts[6].IsNull ? null : DecodeToken(parts[5].AsString()!, sessionId, parts[6].AsString()!),
        };
    }

    /// <inheritdoc />
    public async ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshTokenId);
        ArgumentNullException.ThrowIfNull(newAccess);
        ArgumentNullException.ThrowIfNull(newRefresh);
        var args = Args(10);
        args.Add(refreshTokenId);
        args.Add(newAccess.SessionId);
        args.Add(newRefresh.SessionId);
        args.Add(newAccess.Id);
        args.Add(EncodeToken(newAccess));
        args.Add(newRefresh.Id);
        args.Add(EncodeToken(newRefresh));
        args.Add(Ms(now));
        args.Add(Ms(newRefresh.ExpiresAt));
        args.Add(Ms(now - TesseraDefaults.ExpiredTokenRetention));
        RedisValue result;
        try
        {
            result = await EvalAsync(RedisScripts.Rotate, $"{_prefix}:k:{refreshTokenId}", args, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.Contains("tessera: a new token id collided", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("A new token id collided with a stored one.", e);
        }
        return result.AsInt64() switch
        {
            0 => TokenRotationOutcome.Rotated,
            1 => TokenRotationOutcome.AlreadyRevoked,
            2 => TokenRotationOutcome.NotFound,
            _ => TokenRotationOutcome.SessionNotLive,
        };
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

    /// <summary>
    /// The most sessions one cleanup script deletes: 32. Redis runs a script alone, so a batch of 1,000 is split into
    /// scripts of this size, and requests get their turn between them.
    /// </summary>
    internal const int MaxSessionsPerCleanupScript = 32;

    private async ValueTask<int> DeleteBatchAsync(string index, string cutoff, int batchSize, CancellationToken cancellationToken)
    {
        var deleted = 0;
        while (deleted < batchSize)
        {
            var chunk = Math.Min(batchSize - deleted, MaxSessionsPerCleanupScript);
            var args = Args(3);
            args.Add(index);
            args.Add(cutoff);
            args.Add(chunk.ToString(CultureInfo.InvariantCulture));
            var done = (int)(await EvalAsync(RedisScripts.DeleteBatch, $"{_prefix}:{index}", args, cancellationToken).ConfigureAwait(false)).AsInt64();
            deleted += done;
            if (done < chunk)
            {
                break;
            }
        }
        if (deleted > 0)
        {
            Log.CleanupBatch(_logger, deleted);
        }
        return deleted;
    }

    private string SessionKey(string id) => $"{_prefix}:s:{{{id}}}";

    /// <summary>The script arguments every script starts with: prefix, the store's now, the expiry margin.</summary>
    private List<RedisArg> Args(int more) =>
        new(3 + more) { _prefix, Ms(_time.GetUtcNow()), _marginMs.ToString(CultureInfo.InvariantCulture) };

    private async ValueTask<RedisValue> EvalAsync(RedisScript script, string key, List<RedisArg> args, CancellationToken cancellationToken)
    {
        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await Eval(connection, script, key, args, cancellationToken).ConfigureAwait(false);
    }

    private static ValueTask<RedisValue> Eval(RedisConnection connection, RedisScript script, string key, List<RedisArg> args, CancellationToken cancellationToken) =>
        connection.EvaluateAsync(script, [key], args, cancellationToken);

    /// <summary>
    /// Runs a read, retrying it once when the connection broke under it (a read is safe to repeat): after a Redis
    /// restart the first command can meet the dead socket before the client has noticed.
    /// </summary>
    private async ValueTask<RedisValue> ReadAsync(Func<RedisConnection, ValueTask<RedisValue>> read, CancellationToken cancellationToken)
    {
        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await read(connection).ConfigureAwait(false);
        }
        catch (RedisConnectionException e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.ReadRetried(_logger, e);
            return await read(connection).ConfigureAwait(false);
        }
    }

    private ValueTask<RedisConnection> ConnectionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Volatile.Read(ref _connection) is { } connection
            ? ValueTask.FromResult(connection)
            : new ValueTask<RedisConnection>(ConnectSlowAsync(cancellationToken));
    }

    private async Task<RedisConnection> ConnectSlowAsync(CancellationToken cancellationToken)
    {
        Task<RedisConnection> connecting;
        lock (_gate)
        {
            connecting = _connecting ??= ConnectAndLoadScriptsAsync();
        }
        try
        {
            return await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (connecting.IsFaulted || connecting.IsCanceled)
        {
            lock (_gate)
            {
                if (ReferenceEquals(_connecting, connecting))
                {
                    _connecting = null; // let the next operation try again
                }
            }
            throw;
        }
    }

    private async Task<RedisConnection> ConnectAndLoadScriptsAsync()
    {
        // Not tied to one caller's token: other callers wait on the same attempt. ConnectTimeout bounds it.
        var connection = await RedisConnection.ConnectAsync(_connectionOptions!, _logger, CancellationToken.None).ConfigureAwait(false);
        try
        {
            foreach (var script in RedisScripts.All)
            {
                await connection.LoadScriptAsync(script).ConfigureAwait(false);
            }
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        Volatile.Write(ref _connection, connection);
        return connection;
    }

    private static RedisOptions? ParseConnectionString(RedisSessionStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            throw new ArgumentException("RedisSessionStoreOptions.ConnectionString is required when no RedisConnection is given.", nameof(options));
        }
        var parsed = RedisOptions.Parse(options.ConnectionString);
        parsed.Validate();
        return parsed;
    }

    private SessionRecord? LiveOrNull(SessionRecord? record) => record is not null && record.IsActiveAt(_time.GetUtcNow()) ? record : null;

    /// <summary>Reads a session hash (HGETALL's flat field/value list); null when it is empty or incomplete.</summary>
    private static SessionRecord? ParseSession(string id, RedisValue hash)
    {
        var items = hash.AsArray();
        if (items is null || items.Count == 0)
        {
            return null;
        }
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        string? credential = null, subject = null, userAgent = null, ip = null, label = null;
        long? created = null, seen = null, idle = null, absolute = null, revoked = null;
        for (var i = 0; i + 1 < items.Count; i += 2)
        {
            var field = items[i].AsString()!;
            var value = items[i + 1];
            if (field.StartsWith("d:", StringComparison.Ordinal))
            {
                data[field[2..]] = value.AsString()!;
                continue;
            }
            switch (field)
            {
                case "m:ch": credential = value.AsString(); break;
                case "m:sub": subject = value.AsString(); break;
                case "m:c": created = value.AsInt64(); break;
                case "m:l": seen = value.AsInt64(); break;
                case "m:i": idle = value.AsInt64(); break;
                case "m:a": absolute = value.AsInt64(); break;
                case "m:r": revoked = value.AsInt64(); break;
                case "m:ua": userAgent = value.AsString(); break;
                case "m:ip": ip = value.AsString(); break;
                case "m:lb": label = value.AsString(); break;
                default: break; // a field a later version added: ignore it
            }
        }
        if (credential is null || created is null || seen is null || idle is null || absolute is null)
        {
            return null; // a partial hash (for example after an eviction): treat as missing
        }
        return new SessionRecord
        {
            Id = id,
            CredentialHash = Convert.FromHexString(credential),
            Subject = subject,
            Data = data,
            CreatedAt = Time(created.Value),
            LastSeenAt = Time(seen.Value),
            IdleExpiresAt = Time(idle.Value),
            AbsoluteExpiresAt = Time(absolute.Value),
            RevokedAt = revoked is { } r ? Time(r) : null,
            Metadata = userAgent is null && ip is null && label is null ? SessionMetadata.Empty : new SessionMetadata(userAgent, ip, label),
        };
    }

    // Tokens are kept as JSON so the rotation script can change them with cjson; times are strings so no precision is lost in Lua.
    private static string EncodeToken(TokenRecord token)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("k", token.Kind == TokenKind.Refresh ? 1 : 0);
            writer.WriteString("p", token.PairedTokenId);
            writer.WriteString("c", Ms(token.CreatedAt));
            writer.WriteString("e", Ms(token.ExpiresAt));
            if (token.RevokedAt is { } revoked)
            {
                writer.WriteString("r", Ms(revoked));
            }
            if (token.SuccessorId is { } successor)
            {
                writer.WriteString("s", successor);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static TokenRecord DecodeToken(string id, string sessionId, string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new TokenRecord
        {
            Id = id,
            SessionId = sessionId,
            Kind = root.GetProperty("k").GetInt32() == 1 ? TokenKind.Refresh : TokenKind.Access,
            PairedTokenId = root.GetProperty("p").GetString()!,
            CreatedAt = Time(ParseMs(root.GetProperty("c"))),
            ExpiresAt = Time(ParseMs(root.GetProperty("e"))),
            RevokedAt = root.TryGetProperty("r", out var r) ? Time(ParseMs(r)) : null,
            SuccessorId = root.TryGetProperty("s", out var s) ? s.GetString() : null,
        };
    }

    private static long ParseMs(JsonElement element) => element.ValueKind == JsonValueKind.Number
        ? element.GetInt64()
        : long.Parse(element.GetString()!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    private static void AddOptional(List<RedisArg> args, string field, string? value)
    {
        if (value is not null)
        {
            args.Add(field);
            args.Add(value);
        }
    }

    private static string Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
