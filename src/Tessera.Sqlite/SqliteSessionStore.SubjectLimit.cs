namespace Tessera.Sqlite;

// Per-user sessions: listing a subject's sessions and trimming them to a limit.
public sealed partial class SqliteSessionStore : ISubjectSessionIndex, ISubjectSessionLimiter
{
    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        await InitializeAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, SqliteStatements.ListBySubject);
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$now", Now());
        return await ReadRecordsAsync(command, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>One <c>UPDATE ... RETURNING</c> statement (so one write transaction) ranks, revokes and reports.</remarks>
    public ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        return WriteAsync((subject, keep, order, mustKeepId, revokedAt), static async (store, connection, transaction, trim, cancellationToken) =>
        {
            var revoked = new List<string>();
            await using var command = Command(connection, transaction, trim.order switch
            {
                SessionLimitOrder.OldestCreated => SqliteStatements.TrimOldestCreated,
                SessionLimitOrder.NewcomerOnly => SqliteStatements.TrimNewcomerOnly,
                _ => SqliteStatements.TrimMostRecentlySeen,
            });
            command.Parameters.AddWithValue("$subject", trim.subject);
            command.Parameters.AddWithValue("$now", store.Now());
            command.Parameters.AddWithValue("$keep", trim.keep);
            command.Parameters.AddWithValue("$must", (object?)trim.mustKeepId ?? DBNull.Value);
            command.Parameters.AddWithValue("$revoked_at", Ms(trim.revokedAt));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                revoked.Add(reader.GetString(0));
            }
            return (IReadOnlyList<string>)revoked;
        }, cancellationToken);
    }
}
