using Microsoft.Extensions.Logging;

namespace Tessera.PostgreSql;

/// <summary>
/// The PostgreSQL store's log messages. Event ids are stable (2200-2299); a session id is only ever logged as a short
/// hash, a credential hash never.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(2201, LogLevel.Information, "PostgreSQL session store applied migration {Migration} to schema {Schema} (sessions table {SessionsTable}).")]
    public static partial void MigrationApplied(ILogger logger, string migration, string schema, string sessionsTable);

    [LoggerMessage(2202, LogLevel.Information, "PostgreSQL session store schema is at version {Version} (was {From}).")]
    public static partial void SchemaReady(ILogger logger, int version, int from);

    [LoggerMessage(2203, LogLevel.Warning, "PostgreSQL session store refused a patch of session {SessionRef}: its new credential hash is already taken.")]
    public static partial void CredentialCollision(ILogger logger, string sessionRef);

    [LoggerMessage(2204, LogLevel.Debug, "PostgreSQL session store deleted {Count} sessions in one cleanup batch.")]
    public static partial void CleanupBatch(ILogger logger, int count);

    [LoggerMessage(2205, LogLevel.Error, "PostgreSQL session store could not apply its migrations at start-up.")]
    public static partial void MigrationFailed(ILogger logger, Exception exception);

    [LoggerMessage(2206, LogLevel.Warning, "PostgreSQL session store ran a statement again on a fresh connection after its pooled connection failed ({Reason}, statement sent: {Sent}); the data source's idle connections were cleared.")]
    public static partial void RunningAgain(ILogger logger, string reason, bool sent);

    [LoggerMessage(2207, LogLevel.Debug, "PostgreSQL session store's batch of {Count} coalesced writes failed ({Reason}) and was rolled back; each write runs again alone.")]
    public static partial void WriteBatchRunAlone(ILogger logger, int count, string reason);

    [LoggerMessage(2211, LogLevel.Warning, "The near cache's LISTEN connection to PostgreSQL failed; retrying in {DelayMs} ms.")]
    public static partial void ListenFailed(ILogger logger, long delayMs, Exception exception);
}
