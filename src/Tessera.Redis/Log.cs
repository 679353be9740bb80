using Microsoft.Extensions.Logging;

namespace Tessera.Redis;

/// <summary>Tessera.Redis's log messages. Event ids are stable; a password, key or value is never logged, a session id only as a short hash.</summary>
internal static partial class Log
{
    [LoggerMessage(4101, LogLevel.Warning, "The {ConnectionType} connection to Redis at {Endpoint} failed ({FailureType}); StackExchange.Redis reconnects by itself.")]
    public static partial void ConnectionLost(ILogger logger, string endpoint, string connectionType, string failureType, Exception? exception);

    [LoggerMessage(4102, LogLevel.Information, "The {ConnectionType} connection to Redis at {Endpoint} is restored.")]
    public static partial void ConnectionRestored(ILogger logger, string endpoint, string connectionType);

    [LoggerMessage(4103, LogLevel.Warning, "Connecting to Redis at {Endpoints} failed; the next store operation tries again.")]
    public static partial void ConnectFailed(ILogger logger, string endpoints, Exception exception);

    [LoggerMessage(4104, LogLevel.Warning, "A session write was acknowledged by {Acknowledged} of the {Wanted} replicas asked for within {TimeoutMs} ms; the write stands, and a failover now may lose it.")]
    public static partial void ReplicasBehind(ILogger logger, long acknowledged, int wanted, long timeoutMs);

    [LoggerMessage(4111, LogLevel.Warning, "Redis session store refused a patch of session {SessionRef}: its new credential hash is already taken.")]
    public static partial void CredentialCollision(ILogger logger, string sessionRef);

    [LoggerMessage(4112, LogLevel.Debug, "Redis session store deleted {Count} sessions in one cleanup batch.")]
    public static partial void CleanupBatch(ILogger logger, int count);

    [LoggerMessage(4113, LogLevel.Warning, "A Redis session store read failed because the connection broke; retrying once.")]
    public static partial void ReadRetried(ILogger logger, Exception exception);

    [LoggerMessage(4121, LogLevel.Warning, "The near cache's subscription to Redis failed; retrying in {DelayMs} ms.")]
    public static partial void SubscriptionFailed(ILogger logger, long delayMs, Exception exception);

    [LoggerMessage(4122, LogLevel.Warning, "The near cache's subscription connection to Redis at {Endpoint} failed ({FailureType}); the cache serves nothing from memory until it has subscribed again, then flushes.")]
    public static partial void SubscriptionLost(ILogger logger, string endpoint, string failureType);
}
