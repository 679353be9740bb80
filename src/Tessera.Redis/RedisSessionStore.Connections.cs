using Tessera.Redis.Resp;

namespace Tessera.Redis;

// Connecting (once, shared, reconnecting on failure) and running the scripts.
public sealed partial class RedisSessionStore
{
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
}
