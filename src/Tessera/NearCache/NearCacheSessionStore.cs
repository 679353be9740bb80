using System.Buffers.Binary;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.Tokens;

namespace Tessera.NearCache;

/// <summary>
/// A local cache in front of a shared store (Redis or PostgreSQL): session reads are served from process memory, every
/// write goes through to the store, and every change or revocation is announced on an
/// <see cref="ISessionInvalidationChannel"/> so the other instances drop their copies.
/// </summary>
/// <remarks>
/// <para>
/// What is cached: sessions read by credential or by id, and access-token lookups. Refresh-token lookups, subject
/// listings and everything administrative always go to the store, so refresh rotation and reuse detection see the
/// store's truth. A cached session is served only while it is live at the store's clock and younger than
/// <see cref="NearCacheOptions.MaxStaleness"/>; an expired-looking copy is re-read, never answered as missing.
/// </para>
/// <para>
/// Bounds: a change made on another instance is seen here once its message arrives (the channel's delivery time),
/// and at the latest after <see cref="NearCacheOptions.MaxStaleness"/> if the message is lost. While the channel is
/// down the cache is bypassed and emptied, so a connection loss never extends that bound. A read that overlaps an
/// invalidation is returned but not kept. Touches (the sliding idle deadline) are written through and only drop the
/// local copy: other instances see the new deadline when they next read the session from the store.
/// </para>
/// <para>
/// The wrapped store must have every optional capability (cleanup, counting, subject index and limits,
/// administration, tokens), as the memory, SQLite, PostgreSQL and Redis stores do; those calls are passed through.
/// Over a routed store (<see cref="IRoutedSessionStore"/>) a credential lookup passes the route on, and a cached session
/// is served only to the route it lives on; over any other store the route is ignored.
/// </para>
/// </remarks>
public sealed partial class NearCacheSessionStore : ISessionStore, IRoutedSessionStore, ISessionInvalidationListener, IAsyncDisposable
{
    private readonly ISessionStore _inner;
    private readonly IRoutedSessionStore? _routed;
    private readonly ISessionInvalidationChannel _channel;
    private readonly NearCacheOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TesseraMetrics _metrics;
    private readonly ConcurrentDictionary<string, Entry> _byId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<CredentialKey, Entry> _byCredential = new();
    private readonly ConcurrentDictionary<string, TokenEntry> _byToken = new(StringComparer.Ordinal);
    private readonly Lock _startLock = new();
    private Task? _started;
    // Invalidations are numbered; each of 256 stripes of session ids remembers the number of its latest one, and a
    // flush the number it happened at. A read notes the number before it starts and keeps its result only if neither
    // its session's stripe nor a flush moved past it: a write to one session does not stop other sessions from being
    // cached while it is in flight.
    private const int StripeCount = 256;
    private readonly long[] _stripes = new long[StripeCount];
    private long _sequence;
    private long _flushedAt;
    private int _count;
    private volatile bool _listening;
    private bool _disposed;

    /// <summary>Wraps a store.</summary>
    /// <param name="inner">The shared store; it must implement every optional store interface (see the remarks).</param>
    /// <param name="channel">Carries invalidations between instances; owned by this store from now on (disposed with it).</param>
    /// <param name="options">The bounds; <see langword="null"/> keeps the defaults.</param>
    /// <param name="timeProvider">The clock for expiry and staleness; the store's own clock. <see langword="null"/> means <see cref="TimeProvider.System"/>.</param>
    /// <param name="logger">Logs publish failures and channel state; <see langword="null"/> logs nothing.</param>
    /// <param name="metrics">Counts lookups and invalidations; <see langword="null"/> uses the shared <c>Tessera</c> meter.</param>
    /// <exception cref="ArgumentException"><paramref name="inner"/> lacks an optional store interface.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public NearCacheSessionStore(ISessionStore inner, ISessionInvalidationChannel channel, NearCacheOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null, TesseraMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(channel);
        if (inner is NearCacheSessionStore)
        {
            throw new ArgumentException("The store already has a near cache.", nameof(inner));
        }
        _cleanup = Require<ISessionStoreCleanup>(inner);
        _counter = Require<ISessionStoreCounter>(inner);
        _index = Require<ISubjectSessionIndex>(inner);
        _limiter = Require<ISubjectSessionLimiter>(inner);
        _administration = Require<ISessionStoreAdministration>(inner);
        _tokens = Require<ISessionTokenStore>(inner);
        _inner = inner;
        _routed = inner as IRoutedSessionStore;
        _channel = channel;
        _options = options ?? new NearCacheOptions();
        _options.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _metrics = metrics ?? TesseraMetrics.Shared;
    }

    /// <summary>The store every write goes to.</summary>
    public ISessionStore Inner => _inner;

    /// <summary>Whether the invalidation channel is up, so reads may be served from memory.</summary>
    public bool IsListening => _listening;

    internal TimeSpan StartTimeout => _options.StartTimeout;

    /// <summary>How many sessions are held in memory now (approximate under concurrency).</summary>
    public int Count => Math.Max(0, Volatile.Read(ref _count));

    /// <summary>
    /// Subscribes to the invalidation channel; reads are served from memory only once this has succeeded. Called by the
    /// host at start-up (waiting at most <see cref="NearCacheOptions.StartTimeout"/>), and started in the background by
    /// the first read otherwise. Calling it again returns the same task.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the subscription keeps trying in the background).</param>
    /// <returns>A task that completes when listening.</returns>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        Task started;
        lock (_startLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            started = _started ??= _channel.StartAsync(this, CancellationToken.None);
        }
        return cancellationToken.CanBeCanceled ? started.WaitAsync(cancellationToken) : started;
    }

    /// <inheritdoc />
    public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default) =>
        _inner.CreateAsync(record, cancellationToken);

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return _byId.TryGetValue(id, out var entry) && Serves(entry, out _)
            ? Hit(entry.Record)
            : LoadThroughAsync(id, default, null, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default) =>
        LoadByCredentialAsync(credentialHash, null, cancellationToken);

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, SessionRoute route, CancellationToken cancellationToken = default) =>
        // Over a store that is not routed the route is ignored: it finds (and caches) by hash alone, as it always did.
        LoadByCredentialAsync(credentialHash, _routed is null ? null : route, cancellationToken);

    private ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, SessionRoute? route, CancellationToken cancellationToken)
    {
        if (credentialHash.Length == CredentialKey.Length)
        {
            var key = new CredentialKey(credentialHash.Span);
            // A copy is served only to the route its session lives on: the routed store would find nothing elsewhere.
            if (_byCredential.TryGetValue(key, out var entry) && Serves(entry, out _)
                && (route is null || SessionRoute.Of(entry.Record.Id) == route.Value))
            {
                return Hit(entry.Record);
            }
            return LoadThroughAsync(null, key, route, cancellationToken);
        }
        return route is { } given ? _routed!.LoadByCredentialAsync(credentialHash, given, cancellationToken) : _inner.LoadByCredentialAsync(credentialHash, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        try
        {
            return await _inner.ApplyAsync(id, patch, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Dropped and announced whatever the outcome: a failed write may still have reached the store.
            Evict(id, "local");
            await PublishAsync(id).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        // Only the local copy is dropped (after the write, so a read racing it cannot keep the old deadline): a touch
        // moves deadlines forward, so another instance's older copy is never served past what the store allows (it
        // re-reads once its copy looks expired).
        try
        {
            return await _inner.TouchAsync(id, lastSeenAt, idleExpiresAt, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Evict(id, "local");
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        Evict(id, "local");
        try
        {
            return await _inner.RevokeAsync(id, revokedAt, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Evict(id, "local");
            await PublishAsync(id).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        Evict(id, "local");
        try
        {
            return await _inner.DeleteAsync(id, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Evict(id, "local");
            await PublishAsync(id).ConfigureAwait(false);
        }
    }

    /// <summary>Stops listening and disposes the channel (not the wrapped store, which the container disposes).</summary>
    /// <returns>A task that completes when stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        lock (_startLock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        _listening = false;
        await _channel.DisposeAsync().ConfigureAwait(false);
        Flush("local");
    }

    void ISessionInvalidationListener.OnInvalidated(string sessionId)
    {
        if (sessionId is not null)
        {
            Evict(sessionId, "remote");
        }
    }

    void ISessionInvalidationListener.OnInvalidatedAll() => Flush("remote");

    void ISessionInvalidationListener.OnListening(bool listening)
    {
        if (listening)
        {
            // Messages may have been lost while not listening: start from nothing, then serve from memory again.
            Flush("reconnect");
            _listening = true;
            Log.NearCacheListening(_logger);
        }
        else
        {
            _listening = false;
            Flush("reconnect");
            Log.NearCacheNotListening(_logger);
        }
    }

    private static T Require<T>(ISessionStore inner) where T : class =>
        inner as T ?? throw new ArgumentException($"A near cache needs a store that implements {typeof(T).Name}; {inner.GetType().Name} does not.", nameof(inner));

    private bool Serves(Entry entry, out DateTimeOffset now)
    {
        now = default;
        if (!_listening || entry.Dead)
        {
            return false;
        }
        now = _time.GetUtcNow();
        return now - entry.FetchedAt < _options.MaxStaleness && entry.Record.IsActiveAt(now) && entry.Intact;
    }

    private ValueTask<SessionRecord?> Hit(SessionRecord record)
    {
        _metrics.NearCacheLookup("hit");
        return new ValueTask<SessionRecord?>(record);
    }

    private async ValueTask<SessionRecord?> LoadThroughAsync(string? id, CredentialKey key, SessionRoute? route, CancellationToken cancellationToken)
    {
        EnsureStarted();
        var listening = _listening;
        _metrics.NearCacheLookup(listening ? "miss" : "bypass");
        var generation = Volatile.Read(ref _sequence);
        var fetchedAt = _time.GetUtcNow();
        SessionRecord? record;
        if (id is not null)
        {
            record = await _inner.LoadAsync(id, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var hash = key.ToArray();
            record = route is { } given
                ? await _routed!.LoadByCredentialAsync(hash, given, cancellationToken).ConfigureAwait(false)
                : await _inner.LoadByCredentialAsync(hash, cancellationToken).ConfigureAwait(false);
        }
        if (listening && record is not null)
        {
            Keep(new Entry(record, fetchedAt), generation);
        }
        return record;
    }

    /// <summary>
    /// Puts an entry in place unless its session was invalidated (or everything flushed) after invalidation number
    /// <paramref name="generation"/>. The check runs again after inserting: an invalidation records its number before
    /// it removes, so either this check sees it and withdraws the entry, or the invalidation runs after the insert and
    /// removes it.
    /// </summary>
    private bool Keep(Entry entry, long generation)
    {
        if (InvalidatedSince(entry.Record.Id, generation) || !_listening)
        {
            return false;
        }
        if (Volatile.Read(ref _count) >= _options.MaxEntries)
        {
            Trim();
        }
        var id = entry.Record.Id;
        while (true)
        {
            if (_byId.TryAdd(id, entry))
            {
                Interlocked.Increment(ref _count);
                break;
            }
            if (_byId.TryGetValue(id, out var old) && _byId.TryUpdate(id, entry, old))
            {
                Forget(old);
                break;
            }
        }
        if (entry.Record.CredentialHash.Length == CredentialKey.Length)
        {
            _byCredential[entry.Key] = entry;
        }
        if (InvalidatedSince(id, generation) || !_listening)
        {
            Remove(id, entry);
            return false;
        }
        return true;
    }

    private bool InvalidatedSince(string id, long generation) =>
        Volatile.Read(ref _flushedAt) > generation || Volatile.Read(ref _stripes[Stripe(id)]) > generation;

    private static int Stripe(string id) => (int)((uint)StringComparer.Ordinal.GetHashCode(id) % StripeCount);

    // Records a new invalidation number as the stripe's (or the flush's) latest, never lowering it when two race.
    private static void Advance(ref long latest, long number)
    {
        var seen = Volatile.Read(ref latest);
        while (seen < number)
        {
            var found = Interlocked.CompareExchange(ref latest, number, seen);
            if (found == seen)
            {
                return;
            }
            seen = found;
        }
    }

    private void Evict(string id, string source)
    {
        Advance(ref _stripes[Stripe(id)], Interlocked.Increment(ref _sequence));
        if (_byId.TryRemove(id, out var entry))
        {
            Interlocked.Decrement(ref _count);
            Forget(entry);
        }
        _metrics.NearCacheInvalidation(source);
    }

    private void Remove(string id, Entry entry)
    {
        if (_byId.TryRemove(new KeyValuePair<string, Entry>(id, entry)))
        {
            Interlocked.Decrement(ref _count);
        }
        Forget(entry);
    }

    // Marks the entry dead (so aliases pointing at it miss) and removes its aliases.
    private void Forget(Entry entry)
    {
        entry.Kill();
        _byCredential.TryRemove(new KeyValuePair<CredentialKey, Entry>(entry.Key, entry));
        foreach (var tokenId in entry.TokenIds())
        {
            if (_byToken.TryGetValue(tokenId, out var token) && ReferenceEquals(token.Session, entry))
            {
                _byToken.TryRemove(new KeyValuePair<string, TokenEntry>(tokenId, token));
            }
        }
    }

    private void Flush(string source)
    {
        Advance(ref _flushedAt, Interlocked.Increment(ref _sequence));
        foreach (var (id, entry) in _byId)
        {
            Remove(id, entry);
        }
        _byCredential.Clear();
        _byToken.Clear();
        _metrics.NearCacheInvalidation(source == "remote" ? "all" : source);
    }

    // Drops about a tenth of the entries: enumeration order is arbitrary, which is all the bound promises.
    private void Trim()
    {
        var drop = Math.Max(1, _options.MaxEntries / 10);
        foreach (var (id, entry) in _byId)
        {
            if (drop-- <= 0)
            {
                break;
            }
            Remove(id, entry);
        }
    }

    private async ValueTask PublishAsync(string? sessionId)
    {
        EnsureStarted();
        try
        {
            await _channel.PublishAsync(sessionId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The write stands; other instances see it within MaxStaleness. The message never carries the id.
            Log.NearCachePublishFailed(_logger, _options.MaxStaleness, e);
        }
    }

    private void EnsureStarted()
    {
        if (Volatile.Read(ref _started) is not null || _disposed)
        {
            return;
        }
        Task start;
        try
        {
            start = StartAsync();
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        _ = start.ContinueWith(
            static (t, state) => Log.NearCacheStartFailed((ILogger)state!, t.Exception!.GetBaseException()),
            _logger,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private sealed class Entry(SessionRecord record, DateTimeOffset fetchedAt)
    {
        private List<string>? _tokenIds;
        private volatile bool _dead;

        public SessionRecord Record { get; } = record;

        public DateTimeOffset FetchedAt { get; } = fetchedAt;

        public CredentialKey Key { get; } = record.CredentialHash.Length == CredentialKey.Length ? new CredentialKey(record.CredentialHash) : default;

        public bool Dead => _dead;

        // Callers get the cached record itself, and a byte array can be written to: a copy whose hash a caller changed
        // is never served again (it is re-read), so nobody sees another caller's scribbles.
        public bool Intact => Record.CredentialHash.Length == CredentialKey.Length && new CredentialKey(Record.CredentialHash) == Key;

        public void Kill() => _dead = true;

        public void AddToken(string tokenId)
        {
            lock (this)
            {
                (_tokenIds ??= []).Add(tokenId);
            }
        }

        public string[] TokenIds()
        {
            lock (this)
            {
                return _tokenIds is null ? [] : [.. _tokenIds];
            }
        }
    }

    private sealed class TokenEntry(TokenLookup lookup, Entry session)
    {
        public TokenLookup Lookup { get; } = lookup;

        public Entry Session { get; } = session;
    }

    /// <summary>A SHA-256 as a value: hashing and comparing it allocates nothing.</summary>
    private readonly record struct CredentialKey
    {
        public const int Length = 32;

        private readonly ulong _a;
        private readonly ulong _b;
        private readonly ulong _c;
        private readonly ulong _d;

        public CredentialKey(ReadOnlySpan<byte> hash)
        {
            _a = BinaryPrimitives.ReadUInt64LittleEndian(hash);
            _b = BinaryPrimitives.ReadUInt64LittleEndian(hash[8..]);
            _c = BinaryPrimitives.ReadUInt64LittleEndian(hash[16..]);
            _d = BinaryPrimitives.ReadUInt64LittleEndian(hash[24..]);
        }

        public byte[] ToArray()
        {
            var bytes = new byte[Length];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, _a);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), _b);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16), _c);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(24), _d);
            return bytes;
        }
    }
}
