using Microsoft.Extensions.Logging;

namespace Tessera.Sqlite;

/// <summary>
/// The SQLite store's log messages. Event ids are stable (2100-2199); a session id is only ever logged as a short hash,
/// a credential hash never.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(2101, LogLevel.Information, "SQLite session store schema migrated from version {From} to {To}.")]
    public static partial void SchemaMigrated(ILogger logger, int from, int to);

    [LoggerMessage(2102, LogLevel.Warning, "SQLite session store could not switch the database to WAL mode (it is in '{Mode}' mode); readers and writers will block each other.")]
    public static partial void WalUnavailable(ILogger logger, string mode);

    [LoggerMessage(2103, LogLevel.Debug, "SQLite session store was at its bound; deleted {Count} expired sessions to make room.")]
    public static partial void ExpiredDeletedAtBound(ILogger logger, int count);

    [LoggerMessage(2104, LogLevel.Warning, "SQLite session store is at its bound of {MaxSessions} sessions; evicted the {Count} least recently seen (anonymous first).")]
    public static partial void Evicted(ILogger logger, int maxSessions, int count);

    [LoggerMessage(2105, LogLevel.Debug, "SQLite session store is at its bound of {MaxSessions} {Kind}sessions; a new session was refused.")]
    public static partial void Rejected(ILogger logger, int maxSessions, string kind);

    [LoggerMessage(2106, LogLevel.Warning, "SQLite session store refused a patch of session {SessionRef}: its new credential hash is already taken.")]
    public static partial void CredentialCollision(ILogger logger, string sessionRef);
}
