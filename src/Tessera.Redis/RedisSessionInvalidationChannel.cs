using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Tessera.NearCache;

namespace Tessera.Redis;

/// <summary>
/// Redis pub/sub for the near cache, over the store's own multiplexer (StackExchange.Redis keeps one subscription
/// connection beside its command connections): messages are published and received on the channel
/// <c>P:invalidations</c> (<c>P</c> is the store's key prefix). A plain <c>PUBLISH</c> reaches every node of a Redis
/// Cluster, so one channel serves a cluster too.
/// </summary>
/// <remarks>
/// Redis pub/sub delivers at most once and only to connected subscribers. When the subscription's connection fails, the
/// near cache is told it is not listening (and serves nothing from memory); once the subscription is made again it is
/// told it is listening, and it flushes everything first, since messages sent meanwhile are lost. Channels are
/// server-wide, not per database: two stores with the same key prefix on different databases of one server share
/// invalidations, which costs extra reads and never correctness.
/// </remarks>
public sealed class RedisSessionInvalidationChannel : SessionInvalidationChannel
{
    private readonly RedisSessionStore _store;
    private readonly ILogger _logger;
    private readonly RedisChannel _channel;

    /// <summary>Creates the channel of a store; nothing is subscribed until <see cref="SessionInvalidationChannel.StartAsync"/>.</summary>
    /// <param name="store">The store whose multiplexer and key prefix are used.</param>
    /// <param name="logger">Logs subscription failures; <see langword="null"/> logs nothing.</param>
    /// <param name="timeProvider">Times the retries (network time, not session expiry); <see langword="null"/> means <see cref="TimeProvider.System"/>.</param>
    public RedisSessionInvalidationChannel(RedisSessionStore store, ILogger? logger = null, TimeProvider? timeProvider = null)
        : base(timeProvider)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _logger = logger ?? NullLogger.Instance;
        Channel = store.KeyPrefix + ":invalidations";
        _channel = RedisChannel.Literal(Channel);
    }

    /// <summary>The pub/sub channel name: the store's key prefix followed by <c>:invalidations</c>.</summary>
    public string Channel { get; }

    /// <inheritdoc />
    public override ValueTask PublishAsync(string? sessionId, CancellationToken cancellationToken = default) =>
        _store.PublishAsync(_channel, sessionId ?? Everything, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One cycle lasts until the subscription's connection fails; the base class then subscribes again.</remarks>
    protected override async Task ListenOnceAsync(ISessionInvalidationListener listener, Action subscribed, CancellationToken cancellationToken)
    {
        var connection = await _store.GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        var subscriber = connection.GetSubscriber();
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Failed(object? sender, ConnectionFailedEventArgs e)
        {
            if (e.ConnectionType == ConnectionType.Subscription)
            {
                Log.SubscriptionLost(_logger, e.EndPoint?.ToString() ?? "?", e.FailureType.ToString());
                ended.TrySetResult();
            }
        }
        void Received(RedisChannel channel, RedisValue message) => Deliver(listener, message);
        connection.ConnectionFailed += Failed;
        try
        {
            await subscriber.SubscribeAsync(_channel, Received).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (!subscriber.IsConnected(_channel))
            {
                throw new IOException("The near cache's subscription has no connection.");
            }
            subscribed();
            await ended.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            connection.ConnectionFailed -= Failed;
            try
            {
                await subscriber.UnsubscribeAsync(_channel, Received).ConfigureAwait(false);
            }
            catch (RedisException)
            {
                // The connection is gone; the handler is removed locally all the same.
            }
        }
    }

    /// <inheritdoc />
    protected override void OnListenFailed(Exception exception, TimeSpan retryDelay) =>
        Log.SubscriptionFailed(_logger, (long)retryDelay.TotalMilliseconds, exception);
}
