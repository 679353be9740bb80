using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.NearCache;
using Tessera.Redis.Resp;

namespace Tessera.Redis;

/// <summary>
/// Redis pub/sub for the near cache: messages are published over the store's connection on the channel
/// <c>P:invalidations</c> (<c>P</c> is the store's key prefix) and received on a second, subscribed connection to the
/// same server with the same credentials. The subscriber reconnects by itself (backoff from 100 ms to 5 s) and sends a
/// <c>PING</c> every <see cref="HeartbeatInterval"/>, so a silent connection is noticed within two intervals.
/// </summary>
/// <remarks>
/// Redis pub/sub delivers at most once and only to connected subscribers: while the subscriber is disconnected the
/// near cache is told it is not listening (and serves nothing from memory). Channels are server-wide, not per
/// database: two stores with the same key prefix on different databases of one server share invalidations, which costs
/// extra reads and never correctness.
/// </remarks>
public sealed class RedisSessionInvalidationChannel : SessionInvalidationChannel
{
    private readonly RedisSessionStore _store;
    private readonly ILogger _logger;

    /// <summary>Creates the channel of a store; nothing connects until <see cref="SessionInvalidationChannel.StartAsync"/>.</summary>
    /// <param name="store">The store whose server, credentials and key prefix are used.</param>
    /// <param name="logger">Logs subscription failures; <see langword="null"/> logs nothing.</param>
    /// <param name="timeProvider">Times the retries and heartbeats (network time, not session expiry); <see langword="null"/> means <see cref="TimeProvider.System"/>.</param>
    public RedisSessionInvalidationChannel(RedisSessionStore store, ILogger? logger = null, TimeProvider? timeProvider = null)
        : base(timeProvider)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _logger = logger ?? NullLogger.Instance;
        Channel = store.KeyPrefix + ":invalidations";
    }

    /// <summary>The pub/sub channel name: the store's key prefix followed by <c>:invalidations</c>.</summary>
    public string Channel { get; }

    /// <summary>How often the subscriber pings the server: 5 seconds.</summary>
    public static TimeSpan HeartbeatInterval { get; } = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public override ValueTask PublishAsync(string? sessionId, CancellationToken cancellationToken = default) =>
        _store.PublishAsync(Channel, sessionId ?? Everything, cancellationToken);

    /// <inheritdoc />
    protected override async Task ListenOnceAsync(ISessionInvalidationListener listener, Action subscribed, CancellationToken cancellationToken)
    {
        var transport = await RedisTransport.ConnectAsync(_store.SubscriberOptions, cancellationToken).ConfigureAwait(false);
        try
        {
            await transport.WriteCommandAsync("SUBSCRIBE", [Channel], cancellationToken).ConfigureAwait(false);
            var lastReply = Time.GetTimestamp();
            using var heartbeat = new CancellationTokenSource();
            var pings = PingAsync(transport, () => Volatile.Read(ref lastReply), heartbeat.Token);
            try
            {
                await transport.ReadPushedAsync(reply =>
                {
                    Volatile.Write(ref lastReply, Time.GetTimestamp());
                    if (reply.AsArray() is not { Count: >= 3 } parts)
                    {
                        return;
                    }
                    switch (parts[0].AsString())
                    {
                        case "subscribe":
                            subscribed();
                            break;
                        case "message":
                            Deliver(listener, parts[2].AsString());
                            break;
                        default:
                            break; // "pong" and anything else only prove the connection is alive
                    }
                }, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await heartbeat.CancelAsync().ConfigureAwait(false);
                await pings.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        finally
        {
            transport.Break(new RedisConnectionException("The near cache's subscription was closed."));
        }
    }

    /// <inheritdoc />
    protected override void OnListenFailed(Exception exception, TimeSpan retryDelay) =>
        Log.SubscriptionFailed(_logger, _store.SubscriberOptions.Endpoint, (long)retryDelay.TotalMilliseconds, exception);

    private async Task PingAsync(RedisTransport transport, Func<long> lastReply, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(HeartbeatInterval, Time, cancellationToken).ConfigureAwait(false);
            if (Time.GetElapsedTime(lastReply()) > HeartbeatInterval * 2)
            {
                Log.SubscriptionSilent(_logger, transport.Endpoint, (long)(HeartbeatInterval * 2).TotalMilliseconds);
                transport.Break(new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"No reply to PING within {(HeartbeatInterval * 2).TotalMilliseconds} ms.")));
                return;
            }
            await transport.WriteCommandAsync("PING", [], cancellationToken).ConfigureAwait(false);
        }
    }
}
