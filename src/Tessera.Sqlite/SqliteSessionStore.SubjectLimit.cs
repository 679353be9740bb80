namespace Tessera.Sqlite;

// Per-user sessions: listing a subject's sessions and trimming them to a limit.
public sealed partial class SqliteSessionStore : ISubjectSessionIndex, ISubjectSessionLimiter
{
    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var command = Command(connection, null, SqliteStatements.ListBySubject);
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$now", Now());
        return await ReadRecordsAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>One <c>UPDATE ... RETURNING</c> statement (so one write transaction) ranks, revokes and reports.</remarks>
    public ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        return WriteAsync((subject, keep, order, mustKeepId, revokedAt), static async (store, writer, trim, cancellationToken) =>
        {
            var revoked = new List<string>();
            var command = writer.Command(trim.order switch
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
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                revoked.Add(reader.GetString(0));
            }
            return (IReadOnlyList<string>)revoked;
        }, cancellationToken);
    }
}
