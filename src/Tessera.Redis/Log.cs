using Microsoft.Extensions.Logging;

namespace Tessera.Redis;

/// <summary>Tessera.Redis's log messages. Event ids are stable; a password, key or value is never logged.</summary>
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
}
