using Microsoft.Extensions.Logging;

namespace Tessera.Client;

/// <summary>
/// Tessera.Client's log lines (event ids 6001-6099). Tokens never appear: a token is named by 8 hex digits of its SHA-256.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(6001, LogLevel.Debug, "Token pair rotated: refresh token {OldToken} replaced by {NewToken}.")]
    public static partial void Refreshed(ILogger logger, string oldToken, string newToken);

    [LoggerMessage(6002, LogLevel.Warning, "Refreshing the token pair failed (HTTP {StatusCode}); the pair is kept and the next request that needs it tries again.")]
    public static partial void RefreshFailedStatus(ILogger logger, int statusCode);

    [LoggerMessage(6003, LogLevel.Warning, "Refreshing the token pair failed ({ErrorType}); the pair is kept and the next request that needs it tries again.")]
    public static partial void RefreshFailed(ILogger logger, string errorType);

    [LoggerMessage(6004, LogLevel.Warning, "The server ended the token session ({Reason}, server reason {ServerReason}, HTTP {StatusCode}); requests go out without a token until the app signs in again.")]
    public static partial void SessionEnded(ILogger logger, TesseraSessionEndReason reason, string serverReason, int statusCode);

    [LoggerMessage(6005, LogLevel.Warning, "The token store failed to save or clear the pair; the client goes on with the pair it holds in memory (none after the session ended).")]
    public static partial void SaveFailed(ILogger logger, Exception exception);

    [LoggerMessage(6006, LogLevel.Error, "A SessionEnded handler threw; the session stays ended.")]
    public static partial void SessionEndedHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(6007, LogLevel.Debug, "A request was answered 401 invalid_token ({Description}); it is sent once more with the current access token.")]
    public static partial void Retrying(ILogger logger, string description);

    [LoggerMessage(6008, LogLevel.Debug, "A request was answered 401 invalid_token, but its body could not be buffered (unknown length or over MaxBufferedBodyBytes): it is not retried.")]
    public static partial void NotRetriedUnbufferedBody(ILogger logger);

    [LoggerMessage(6009, LogLevel.Warning, "The refresh endpoint answered 200 without a readable token pair; the pair is kept.")]
    public static partial void UnreadablePair(ILogger logger);
}
