using Microsoft.Extensions.Logging;

namespace Tessera.Redis;

/// <summary>Tessera.Redis's log messages. Event ids are stable; a password, key or value is never logged, a session id only as a short hash.</summary>
internal static partial class Log
{
    [LoggerMessage(4101, LogLevel.Warning, "The connection to Redis at {Endpoint} was lost; commands awaiting a reply failed. It reconnects when the next command is sent.")]
    public static partial void ConnectionLost(ILogger logger, string endpoint, Exception exception);

    [LoggerMessage(4102, LogLevel.Information, "Reconnected to Redis at {Endpoint} (attempt {Attempt}).")]
    public static partial void Reconnected(ILogger logger, string endpoint, int attempt);

    [LoggerMessage(4103, LogLevel.Warning, "Reconnecting to Redis at {Endpoint} failed (attempt {Attempt}); retrying in {DelayMs} ms.")]
    public static partial void ReconnectFailed(ILogger logger, string endpoint, int attempt, long delayMs, Exception exception);

    [LoggerMessage(4104, LogLevel.Warning, "A Redis command got no reply within {TimeoutMs} ms; the connection to {Endpoint} is reset so that replies stay matched to their commands.")]
    public static partial void CommandTimedOut(ILogger logger, long timeoutMs, string endpoint);

    [LoggerMessage(4111, LogLevel.Warning, "Redis session store refused a patch of session {SessionRef}: its new credential hash is already taken.")]
    public static partial void CredentialCollision(ILogger logger, string sessionRef);

    [LoggerMessage(4112, LogLevel.Debug, "Redis session store deleted {Count} sessions in one cleanup batch.")]
    public static partial void CleanupBatch(ILogger logger, int count);

    [LoggerMessage(4113, LogLevel.Warning, "A Redis session store read failed because the connection broke; retrying once on a new connection.")]
    public static partial void ReadRetried(ILogger logger, Exception exception);

    [LoggerMessage(4121, LogLevel.Warning, "The near cache's subscription to Redis at {Endpoint} failed; retrying in {DelayMs} ms.")]
    public static partial void SubscriptionFailed(ILogger logger, string endpoint, long delayMs, Exception exception);

    [LoggerMessage(4122, LogLevel.Warning, "The near cache's subscription to Redis at {Endpoint} got no reply to PING within {TimeoutMs} ms; reconnecting.")]
    public static partial void SubscriptionSilent(ILogger logger, string endpoint, long timeoutMs);
}
