using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tessera.NearCache;

namespace Tessera;

/// <summary>
/// Tells long-lived connections (SignalR, WebSockets) that the session behind them ended, and why: a revocation of any
/// kind (sign-out, per-user, operator, session limit, refresh-token leak, a rejected principal) or its idle or absolute
/// deadline passing. One per application (a singleton); thread-safe.
/// </summary>
/// <remarks>
/// <para>
/// How it learns: a revocation made in this process is heard at once, with its reason, and announced on the store's
/// invalidation channel (Redis pub/sub, PostgreSQL <c>LISTEN</c>/<c>NOTIFY</c>; its own subscription, whether or not the
/// near cache is on); a message from another instance makes it re-read the session from the store. Stores in one
/// process (memory, SQLite) need no channel. Each session's deadline has a timer on the injected
/// <see cref="TimeProvider"/>, after which the session is re-read (activity may have extended the idle deadline).
/// </para>
/// <para>
/// Another instance writes a revocation before it announces it, so a re-read can find a session revoked before the
/// message that says why arrives: while the channel is subscribed, such a re-read waits
/// <see cref="SessionEndWatcherOptions.EndedMessageWait"/> (2 seconds by default) for it, then ends the watch with the
/// reason unknown.
/// </para>
/// <para>
/// Messages can be lost, so every watched session is also re-read every
/// <see cref="SessionEndWatcherOptions.RevalidationInterval"/> (30 seconds by default): a lost message delays the end by
/// at most that long and never cancels it. A store failure while re-reading keeps the watch (the next interval retries).
/// Re-reads bypass the near cache.
/// </para>
/// </remarks>
public sealed class SessionEndWatcher : IHostedService, IAsyncDisposable, ISessionInvalidationListener
{
    private readonly InstrumentedStore _store;
    private readonly SessionReporter _reporter;
    private readonly SessionEndWatcherOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ISessionInvalidationChannel? _channel;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Watched> _watched = new(StringComparer.Ordinal);
    private readonly ITimer _sweep;
    private Task? _started;
    private int _sweeping;
    private bool _disposed;
    private volatile bool _listening;

    /// <summary>Creates the watcher; <c>AddTesseraSessionEndWatcher()</c> registers it.</summary>
    /// <param name="manager">The application's session manager (its store, clock and revocations).</param>
    /// <param name="options">The re-validation interval and start timeout.</param>
    /// <param name="channelFactory">Creates the store's invalidation channel; <see langword="null"/> for a store in one process.</param>
    /// <param name="logger">Logs failures without session ids; <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public SessionEndWatcher(SessionManager manager, IOptions<SessionEndWatcherOptions> options, SessionInvalidationChannelFactory? channelFactory = null, ILogger<SessionEndWatcher>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        if (_options.Problems().FirstOrDefault() is { } problem)
        {
            throw new ArgumentOutOfRangeException(nameof(options), problem);
        }
        _time = manager.Time;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        // The store's truth, not a near cache's copy that a message may not have reached yet.
        var store = manager.Store is NearCacheSessionStore cache ? cache.Inner : manager.Store;
        _store = new InstrumentedStore(store, manager.Metrics, manager.Options.StoreTimeout, _time);
        _reporter = manager.Reporter;
        _reporter.Revoked += OnRevokedHere;
        _channel = channelFactory?.Invoke();
        _sweep = _time.CreateTimer(static state => ((SessionEndWatcher)state!).Sweep(), this, _options.RevalidationInterval, _options.RevalidationInterval);
    }

    /// <summary>How many sessions are being watched now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _watched.Count;
            }
        }
    }

    /// <summary>
    /// Calls <paramref name="onEnded"/> once when the session ends (on a background thread), unless the returned handle
    /// is disposed first. A session that already ended, or is missing, is reported shortly after the call (after one
    /// store read). Watching one session many times is fine; each watch is told.
    /// </summary>
    /// <param name="sessionId">The session id (never a credential).</param>
    /// <param name="onEnded">Told why it ended; exceptions it throws are logged and swallowed. Keep it short: start the close, don't await it here.</param>
    /// <param name="expiresAt">
    /// The session's deadline when the caller has just read it (<see cref="TesseraSession.ExpiresAt"/>), so the expiry
    /// timer starts now; <see langword="null"/> leaves it to the first store read.
    /// </param>
    /// <returns>A handle that stops the watch; disposing it twice is a no-op.</returns>
    /// <exception cref="ObjectDisposedException">The watcher was disposed (the host is stopping).</exception>
    public IDisposable Watch(string sessionId, Action<SessionEnded> onEnded, DateTimeOffset? expiresAt = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        ArgumentNullException.ThrowIfNull(onEnded);
        var watch = new WatchHandle(this, sessionId, onEnded);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_watched.TryGetValue(sessionId, out var watched))
            {
                _watched[sessionId] = watched = new Watched();
            }
            watched.Watches.Add(watch);
        }
        EnsureStarted();
        if (expiresAt is { } deadline)
        {
            ScheduleDeadline(sessionId, deadline, _time.GetUtcNow());
        }
        _ = CheckAsync(sessionId, null);
        return watch;
    }

    /// <summary>Subscribes to the store's invalidation channel (if it has one), waiting at most <see cref="SessionEndWatcherOptions.StartTimeout"/>.</summary>
    /// <param name="cancellationToken">Stops waiting; the channel keeps trying in the background.</param>
    /// <returns>A task that completes when subscribed, or when the wait gave up.</returns>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.StartTimeout);
        try
        {
            await EnsureStarted().WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.SessionEndChannelFailed(_logger, e);
        }
    }

    /// <summary>Nothing to do: <see cref="DisposeAsync"/> (by the container) stops the channel.</summary>
    /// <param name="cancellationToken">Unused.</param>
    /// <returns>A completed task.</returns>
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Stops the timers and the channel; watches are dropped without being told. Idempotent.</summary>
    /// <returns>A task that completes when the channel has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        List<Watched> watched;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            watched = [.. _watched.Values];
            _watched.Clear();
        }
        _reporter.Revoked -= OnRevokedHere;
        await _sweep.DisposeAsync().ConfigureAwait(false);
        foreach (var w in watched)
        {
            w.Deadline?.Dispose();
            w.AwaitingMessage?.Dispose();
        }
        if (_channel is not null)
        {
            await _channel.DisposeAsync().ConfigureAwait(false);
        }
    }

    // A plain "this session changed" is the near cache's notice of any write; an end is announced with its reason by the
    // watcher of the instance that made it (and a lost one is caught by re-validation). Reading the store on the plain
    // notice would race the announcement and report a known reason as unknown.
    void ISessionInvalidationListener.OnInvalidated(string sessionId)
    {
    }

    void ISessionInvalidationListener.OnEnded(string sessionId, SessionRevocationReason reason)
    {
        if (IsWatched(sessionId))
        {
            // Re-read rather than trust the message: it names a reason, the store says whether it ended.
            _ = CheckAsync(sessionId, reason);
        }
    }

    void ISessionInvalidationListener.OnInvalidatedAll() => Sweep();

    void ISessionInvalidationListener.OnListening(bool listening)
    {
        _listening = listening;
        if (listening)
        {
            Sweep(); // messages may have been lost while the subscription was down
        }
    }

    private Task EnsureStarted()
    {
        if (_channel is null)
        {
            return Task.CompletedTask;
        }
        lock (_gate)
        {
            return _started ??= _channel.StartAsync(this, CancellationToken.None);
        }
    }

    private void OnRevokedHere(SessionRevokedEvent revoked)
    {
        End(revoked.SessionId, new SessionEnded(revoked.SessionId, revoked.Reason, Expired: false));
        if (_channel is not null)
        {
            _ = PublishAsync(revoked.SessionId, revoked.Reason);
        }
    }

    private async Task PublishAsync(string sessionId, SessionRevocationReason reason)
    {
        try
        {
            await EnsureStarted().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await _channel!.PublishEndedAsync(sessionId, reason, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.SessionEndPublishFailed(_logger, _options.RevalidationInterval, e);
        }
    }

    private bool IsWatched(string sessionId)
    {
        lock (_gate)
        {
            return _watched.ContainsKey(sessionId);
        }
    }

    private void Sweep()
    {
        // One sweep at a time: a slow store must not pile sweeps up.
        if (Interlocked.Exchange(ref _sweeping, 1) != 0)
        {
            return;
        }
        string[] ids;
        lock (_gate)
        {
            ids = [.. _watched.Keys];
        }
        _ = SweepAsync(ids);
    }

    private async Task SweepAsync(string[] ids)
    {
        try
        {
            foreach (var id in ids)
            {
                await CheckAsync(id, null).ConfigureAwait(false);
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    private async Task CheckAsync(string sessionId, SessionRevocationReason? reason)
    {
        SessionRecord? record;
        try
        {
            record = await _store.LoadAsync(sessionId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.SessionEndCheckFailed(_logger, _options.RevalidationInterval, e);
            return;
        }
        var now = _time.GetUtcNow();
        if (record is not null && record.IsActiveAt(now))
        {
            ScheduleDeadline(sessionId, record.ExpiresAt, now, record.Subject);
            return;
        }
        var expired = reason is null && (record is not null ? record.RevokedAt is null : PassedDeadline(sessionId, now));
        if (!expired && reason is null && _reporter.TryGetRevoking(sessionId, out var revoking))
        {
            // This process is revoking it right now and has not told Revoked yet: this read came in between.
            reason = revoking;
        }
        if (!expired && reason is null)
        {
            // A session-limit trim learns which sessions it revoked only from the store's answer, so it cannot note them
            // beforehand: when this read came in between a trim of the session's subject and its report, the report ends
            // the watch with the reason "limit". The subject of a session the store no longer has is the one last read.
            var trims = _reporter.LimitingDone(record is not null ? record.Subject : WatchedSubject(sessionId));
            if (!trims.IsCompleted)
            {
                await trims.ConfigureAwait(false);
                if (!IsWatched(sessionId))
                {
                    return;
                }
            }
        }
        if (!expired && reason is null && _listening && _options.EndedMessageWait > TimeSpan.Zero)
        {
            // Another instance writes a revocation before it announces it (with its reason): this read may have come in
            // between. The announcement ends the watch through OnEnded; the timer ends it if none comes.
            AwaitEndedMessage(sessionId);
            return;
        }
        End(sessionId, new SessionEnded(sessionId, expired ? null : reason, expired));
    }

    private void AwaitEndedMessage(string sessionId)
    {
        lock (_gate)
        {
            if (!_watched.TryGetValue(sessionId, out var watched) || watched.AwaitingMessage is not null)
            {
                return;
            }
            watched.AwaitingMessage = _time.CreateTimer(
                static state =>
                {
                    var (watcher, id) = ((SessionEndWatcher, string))state!;
                    watcher.End(id, new SessionEnded(id, Reason: null, Expired: false));
                },
                (this, sessionId),
                _options.EndedMessageWait,
                Timeout.InfiniteTimeSpan);
        }
    }

    private string? WatchedSubject(string sessionId)
    {
        lock (_gate)
        {
            return _watched.TryGetValue(sessionId, out var watched) ? watched.Subject : null;
        }
    }

    private bool PassedDeadline(string sessionId, DateTimeOffset now)
    {
        lock (_gate)
        {
            return _watched.TryGetValue(sessionId, out var watched) && watched.ExpiresAt is { } deadline && deadline <= now;
        }
    }

    private void ScheduleDeadline(string sessionId, DateTimeOffset expiresAt, DateTimeOffset now, string? subject = null)
    {
        lock (_gate)
        {
            if (!_watched.TryGetValue(sessionId, out var watched))
            {
                return;
            }
            watched.Subject = subject ?? watched.Subject;
            if (watched.ExpiresAt == expiresAt)
            {
                return;
            }
            watched.ExpiresAt = expiresAt;
            watched.Deadline?.Dispose();
            watched.Deadline = _time.CreateTimer(
                static state =>
                {
                    var (watcher, id) = ((SessionEndWatcher, string))state!;
                    _ = watcher.CheckAsync(id, null);
                },
                (this, sessionId),
                expiresAt - now,
                Timeout.InfiniteTimeSpan);
        }
    }

    private void End(string sessionId, SessionEnded ended)
    {
        Watched? watched;
        lock (_gate)
        {
            if (!_watched.Remove(sessionId, out watched))
            {
                return;
            }
        }
        watched.Deadline?.Dispose();
        watched.AwaitingMessage?.Dispose();
        foreach (var watch in watched.Watches)
        {
            try
            {
                watch.OnEnded(ended);
            }
            catch (Exception e)
            {
                Log.SessionEndCallbackFailed(_logger, e);
            }
        }
    }

    private void Unwatch(WatchHandle watch)
    {
        lock (_gate)
        {
            if (_watched.TryGetValue(watch.SessionId, out var watched) && watched.Watches.Remove(watch) && watched.Watches.Count == 0)
            {
                _watched.Remove(watch.SessionId);
                watched.Deadline?.Dispose();
                watched.AwaitingMessage?.Dispose();
            }
        }
    }

    private sealed class Watched
    {
        public List<WatchHandle> Watches { get; } = [];

        public DateTimeOffset? ExpiresAt { get; set; }

        // The subject the last read found (null before the first read, or for an anonymous session).
        public string? Subject { get; set; }

        public ITimer? Deadline { get; set; }

        public ITimer? AwaitingMessage { get; set; }
    }

    private sealed class WatchHandle(SessionEndWatcher owner, string sessionId, Action<SessionEnded> onEnded) : IDisposable
    {
        public string SessionId { get; } = sessionId;

        public Action<SessionEnded> OnEnded { get; } = onEnded;

        public void Dispose() => owner.Unwatch(this);
    }
}

/// <summary>Registers <see cref="SessionEndWatcher"/>.</summary>
public static class SessionEndWatcherServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="SessionEndWatcher"/> (a singleton, started with the host) and its options, validated at start-up.
    /// Needs <c>AddTessera()</c>. Safe to call twice: the second call only adds its configuration. The SignalR and
    /// WebSocket integrations call it for you.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Adjusts the re-validation interval; <see langword="null"/> keeps the defaults (30 seconds).</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddTesseraSessionEndWatcher(this IServiceCollection services, Action<SessionEndWatcherOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SessionEndWatcherOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        options.Validate(o => !o.Problems().Any(), "SessionEndWatcher options are out of range: RevalidationInterval and StartTimeout must be more than zero, EndedMessageWait zero or more.").ValidateOnStart();
        services.TryAddSingleton(sp => new SessionEndWatcher(
            sp.GetRequiredService<SessionManager>(),
            sp.GetRequiredService<IOptions<SessionEndWatcherOptions>>(),
            sp.GetService<SessionInvalidationChannelFactory>(),
            sp.GetService<ILogger<SessionEndWatcher>>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SessionEndWatcher>(sp => sp.GetRequiredService<SessionEndWatcher>()));
        return services;
    }
}
