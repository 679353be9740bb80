using System.Text;
using Microsoft.Extensions.Logging;

namespace Tessera;

/// <summary>Tessera's core log messages. Event ids are stable; a credential or raw session id is never logged.</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Warning, "A session credential was rejected ({Reason}); the request continues without a session.")]
    public static partial void CredentialRejected(ILogger logger, CredentialRejection reason);

    [LoggerMessage(1002, LogLevel.Warning, "Session value '{Key}' of session {SessionRef} could not be read as {Type}; the default is returned.")]
    public static partial void ValueUnreadable(ILogger logger, string key, string sessionRef, string type, Exception exception);

    [LoggerMessage(1003, LogLevel.Debug, "Session {SessionRef} created.")]
    public static partial void SessionCreated(ILogger logger, string sessionRef);

    [LoggerMessage(1004, LogLevel.Debug, "Session {SessionRef} ended before this request could commit; its changes are dropped.")]
    public static partial void SessionVanished(ILogger logger, string sessionRef);

    [LoggerMessage(1005, LogLevel.Debug, "Session {SessionRef} revoked ({Reason}).")]
    public static partial void SessionRevoked(ILogger logger, string sessionRef, SessionRevocationReason reason);

    [LoggerMessage(1006, LogLevel.Information, "Session cleanup deleted {Count} expired sessions.")]
    public static partial void CleanupDeleted(ILogger logger, int count);

    [LoggerMessage(1007, LogLevel.Error, "Session cleanup failed; it retries at the next interval.")]
    public static partial void CleanupFailed(ILogger logger, Exception exception);

    [LoggerMessage(1008, LogLevel.Debug, "Session credential matched no live session.")]
    public static partial void NoLiveSession(ILogger logger);

    [LoggerMessage(1009, LogLevel.Debug, "Token session {SessionRef} created.")]
    public static partial void TokenSessionCreated(ILogger logger, string sessionRef);

    [LoggerMessage(1010, LogLevel.Warning, "A rotated refresh token of session {SessionRef} was used again outside the grace window; the session has been revoked (possible token theft).")]
    public static partial void RefreshTokenReused(ILogger logger, string sessionRef);

    [LoggerMessage(1011, LogLevel.Error, "A Tessera event handler failed; the session decision stands.")]
    public static partial void EventHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(1012, LogLevel.Debug, "An access token was rejected ({Reason}); the request continues without a session.")]
    public static partial void AccessTokenRejected(ILogger logger, string reason);

    [LoggerMessage(1013, LogLevel.Information, "The near cache is listening for invalidations; session reads are served from memory.")]
    public static partial void NearCacheListening(ILogger logger);

    [LoggerMessage(1014, LogLevel.Warning, "The near cache lost its invalidation channel; every session read goes to the store until it reconnects.")]
    public static partial void NearCacheNotListening(ILogger logger);

    [LoggerMessage(1015, LogLevel.Warning, "The near cache could not announce a session change; other instances may serve their copy for up to {MaxStaleness}.")]
    public static partial void NearCachePublishFailed(ILogger logger, TimeSpan maxStaleness, Exception exception);

    [LoggerMessage(1016, LogLevel.Warning, "The near cache could not subscribe to its invalidation channel; it keeps retrying and reads go to the store meanwhile.")]
    public static partial void NearCacheStartFailed(ILogger logger, Exception exception);

    [LoggerMessage(1017, LogLevel.Warning, "The session store failed to load a session ({Operation}: {ErrorType}); the request continues without a session.")]
    public static partial void LoadFailed(ILogger logger, string operation, string errorType);

    [LoggerMessage(1018, LogLevel.Warning, "The session store failed to extend session {SessionRef}'s idle deadline ({ErrorType}); a later request extends it.")]
    public static partial void TouchFailed(ILogger logger, string sessionRef, string errorType);

    [LoggerMessage(1019, LogLevel.Warning, "The session limit of a sign-in could not be enforced ({ErrorType}); session {SessionRef} is revoked if the store allows and the commit fails.")]
    public static partial void SignInLimitFailed(ILogger logger, string sessionRef, string errorType);

    [LoggerMessage(1020, LogLevel.Error, "The session store failed ({Operation}: {ErrorType}); the request is answered with 503 and the client's credential is left as it was.")]
    public static partial void CommitFailed(ILogger logger, string operation, string errorType);

    [LoggerMessage(1021, LogLevel.Debug, "A rotated refresh token ({TokenRef}) of session {SessionRef} was presented again within the grace window; it was answered with the current successor pair.")]
    public static partial void RefreshGraceAnswered(ILogger logger, string tokenRef, string sessionRef);

    [LoggerMessage(1041, LogLevel.Warning, "The session-end watcher could not subscribe to the store's invalidation channel ({ErrorType}); it keeps retrying, and connections of ended sessions close at the next re-validation meanwhile.")]
    private static partial void SessionEndChannelFailed(ILogger logger, string errorType);

    public static void SessionEndChannelFailed(ILogger logger, Exception e) => SessionEndChannelFailed(logger, ErrorType(e));

    [LoggerMessage(1042, LogLevel.Warning, "The session-end watcher could not announce a revocation to other instances ({ErrorType}); their connections close within {Interval}.")]
    private static partial void SessionEndPublishFailed(ILogger logger, TimeSpan interval, string errorType);

    public static void SessionEndPublishFailed(ILogger logger, TimeSpan interval, Exception e) => SessionEndPublishFailed(logger, interval, ErrorType(e));

    [LoggerMessage(1043, LogLevel.Warning, "The session-end watcher could not re-read a watched session ({ErrorType}); it tries again within {Interval}.")]
    private static partial void SessionEndCheckFailed(ILogger logger, TimeSpan interval, string errorType);

    public static void SessionEndCheckFailed(ILogger logger, TimeSpan interval, Exception e) => SessionEndCheckFailed(logger, interval, ErrorType(e));

    [LoggerMessage(1044, LogLevel.Error, "A session-end callback failed; the other watches of the session were still told.")]
    public static partial void SessionEndCallbackFailed(ILogger logger, Exception exception);

    /// <summary>The types of an exception and its causes (<c>A &gt; B</c>): what failed, without any message text.</summary>
    public static string ErrorType(Exception exception)
    {
        var text = new StringBuilder(exception.GetType().Name);
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            text.Append(" > ").Append(inner.GetType().Name);
            // A database's error class (SQLSTATE, such as 57P01) names the failure without quoting any data.
            if (inner is System.Data.Common.DbException { SqlState: { Length: > 0 and <= 5 } state } && state.All(char.IsAsciiLetterOrDigit))
            {
                text.Append(" (").Append(state).Append(')');
            }
        }
        return text.ToString();
    }

    /// <summary>A short, stable, non-reversible reference to a session id for log lines (see <see cref="SessionIdReference"/>).</summary>
    public static string Ref(string? sessionId) => SessionIdReference.Of(sessionId);
}
