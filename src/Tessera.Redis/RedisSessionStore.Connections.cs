using StackExchange.Redis;

namespace Tessera.Redis;

// The multiplexer (given, or created once and shared), running scripts, and waiting for replicas.
public sealed partial class RedisSessionStore
{
    private readonly Lock _gate = new();
    private readonly ConfigurationOptions? _ownConfiguration;
    private readonly bool _ownsConnection;
    private IConnectionMultiplexer? _connection;
    private Task<IConnectionMultiplexer>? _connecting;
    private Task<IConnectionMultiplexer>? _acknowledging;
    private int _disposed;

    /// <summary>
    /// Raised once for each multiplexer the store opens itself (its own connection, and the one for replica
    /// acknowledgements), right after it connected, so that instrumentation can be attached to it, for example
    /// OpenTelemetry's <c>StackExchangeRedisInstrumentation.AddConnection</c>; see <c>docs/redis.md</c>. A multiplexer
    /// handed to the store is not announced: the app already has it. Handlers run on the connecting thread; an exception
    /// from one fails that connection attempt.
    /// </summary>
    public event Action<IConnectionMultiplexer>? ConnectionOpened;

    /// <summary>
    /// The store's multiplexer: the one it was given, or its own, connecting it now if it has not yet (for
    /// instrumentation, health checks and tests). The store keeps ownership of its own: do not dispose it.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (not the connection attempt, which other callers may share).</param>
    /// <returns>The multiplexer.</returns>
    public async ValueTask<IConnectionMultiplexer> GetConnectionAsync(CancellationToken cancellationToken = default) =>
        await ConnectionAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Publishes <paramref name="message"/> on <paramref name="channel"/> over the store's multiplexer.</summary>
    internal async ValueTask PublishAsync(RedisChannel channel, string message, CancellationToken cancellationToken)
    {
        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
        await connection.GetSubscriber().PublishAsync(channel, message).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<IDatabase> DatabaseAsync(CancellationToken cancellationToken) =>
        (await ConnectionAsync(cancellationToken).ConfigureAwait(false)).GetDatabase();

    /// <summary>
    /// Runs a write script, batched with the other scripts in flight, or, with
    /// <see cref="RedisSessionStoreOptions.ReplicaAcknowledgements"/> above 0, on its own and then waits for that many
    /// replicas of the key's primary to acknowledge it (see <see cref="WaitForReplicasAsync"/>).
    /// </summary>
    private async Task<RedisResult> WriteAsync(IDatabase db, string script, RedisKey key, List<RedisValue> args)
    {
        if (_options.ReplicaAcknowledgements == 0)
        {
            return await _batcher.EvaluateAsync(db, script, key, [.. args]).ConfigureAwait(false);
        }
        var acknowledging = (await AcknowledgingConnectionAsync().ConfigureAwait(false)).GetDatabase();
        var result = await acknowledging.ScriptEvaluateAsync(script, [key], [.. args]).ConfigureAwait(false);
        await WaitForReplicasAsync(acknowledging.Multiplexer, key).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// <c>WAIT</c> covers the writes sent before it on its own connection, so it goes to the key's primary over the
    /// connection the write went through: a multiplexer of its own, so that a lagging replica holds up only session
    /// writes and never the reads or the app's other commands. A timeout is not an error (Redis answers with how many
    /// replicas acknowledged); fewer than asked is logged and counted, and the write stands.
    /// </summary>
    private async Task WaitForReplicasAsync(IConnectionMultiplexer connection, RedisKey key)
    {
        var server = connection.GetServer(key);
        var wanted = _options.ReplicaAcknowledgements;
        var timeout = (long)_options.ReplicaAcknowledgementTimeout.TotalMilliseconds;
        var acknowledged = (long)await server.ExecuteAsync("WAIT", [wanted, timeout]).ConfigureAwait(false);
        if (acknowledged < wanted)
        {
            Log.ReplicasBehind(_logger, acknowledged, wanted, timeout);
        }
    }

    /// <summary>
    /// Runs a read, retrying it once when the connection broke under it (a read is safe to repeat): after a failover or
    /// a Redis restart the first command can meet the dead socket before the multiplexer has noticed.
    /// </summary>
    /// <remarks><paramref name="state"/> is what <paramref name="read"/> needs, so that a static lambda allocates no closure per read.</remarks>
    private async ValueTask<TResult> ReadAsync<TState, TResult>(Func<IDatabase, TState, Task<TResult>> read, TState state, CancellationToken cancellationToken)
    {
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await read(db, state).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RedisConnectionException e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.ReadRetried(_logger, e);
            return await read(db, state).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private ValueTask<IConnectionMultiplexer> ConnectionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Volatile.Read(ref _connection) is { } connection
            ? ValueTask.FromResult(connection)
            : new ValueTask<IConnectionMultiplexer>(ConnectSlowAsync(cancellationToken));
    }

    private async Task<IConnectionMultiplexer> ConnectSlowAsync(CancellationToken cancellationToken)
    {
        Task<IConnectionMultiplexer> connecting;
        lock (_gate)
        {
            connecting = _connecting ??= OpenAsync(main: true);
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

    private Task<IConnectionMultiplexer> AcknowledgingConnectionAsync()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_gate)
        {
            if (_acknowledging is { IsFaulted: true } or { IsCanceled: true })
            {
                _acknowledging = null;
            }
            return _acknowledging ??= OpenAsync(main: false);
        }
    }

    private async Task<IConnectionMultiplexer> OpenAsync(bool main)
    {
        var configuration = _ownConfiguration!.Clone();
        if (!main)
        {
            configuration.ClientName = (configuration.ClientName ?? "tessera") + "-acks";
        }
        IConnectionMultiplexer connection;
        try
        {
            connection = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        }
        catch (RedisConnectionException e)
        {
            Log.ConnectFailed(_logger, Endpoints(configuration), e);
            throw;
        }
        try
        {
            ConnectionOpened?.Invoke(connection);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        Subscribe(connection);
        if (main)
        {
            Volatile.Write(ref _connection, connection);
        }
        return connection;
    }

    private void Subscribe(IConnectionMultiplexer connection)
    {
        connection.ConnectionFailed += (_, e) => Log.ConnectionLost(_logger, e.EndPoint?.ToString() ?? "?", e.ConnectionType.ToString(), e.FailureType.ToString(), e.Exception);
        connection.ConnectionRestored += (_, e) => Log.ConnectionRestored(_logger, e.EndPoint?.ToString() ?? "?", e.ConnectionType.ToString());
    }

    /// <summary>The endpoints of a configuration, for a log line (never its password).</summary>
    internal static string Endpoints(ConfigurationOptions configuration) =>
        configuration.EndPoints.Count == 0 ? "(none)" : string.Join(",", configuration.EndPoints.Select(e => e.ToString()));

    /// <summary>Closes the store's own multiplexers (a multiplexer handed to it is left open). Safe to call twice.</summary>
    /// <returns>A task that completes when they are closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        Task<IConnectionMultiplexer>?[] owned;
        lock (_gate)
        {
            owned = [_ownsConnection ? _connecting : null, _acknowledging];
        }
        foreach (var task in owned)
        {
            if (task is null)
            {
                continue;
            }
            try
            {
                await (await task.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException or OperationCanceledException)
            {
                // It never connected: nothing to close.
            }
        }
    }

    /// <summary>Closes the store's own multiplexers synchronously; prefer <see cref="DisposeAsync"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
