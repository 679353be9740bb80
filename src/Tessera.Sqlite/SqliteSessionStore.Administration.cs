namespace Tessera.Sqlite;

// Administration: listing, statistics and clearing, for operators' tools (never on the request path).
public sealed partial class SqliteSessionStore : ISessionStoreAdministration
{
    /// <inheritdoc />
    /// <remarks>
    /// Sessions come ordered by id (SQLite's binary collation) through the id's unique index; the cursor is the last id
    /// returned. A state filter is checked row by row along that index.
    /// </remarks>
    public async ValueTask<SessionPage> ListSessionsAsync(SessionQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        var filter = query.State switch
        {
            SessionState.Live => SqliteStatements.FilterLive,
            SessionState.Expired => SqliteStatements.FilterExpired,
            SessionState.Revoked => SqliteStatements.FilterRevoked,
            _ => "",
        };
        if (query.Subject is not null)
        {
            filter += SqliteStatements.FilterSubject;
        }
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var command = Command(connection, null, SqliteStatements.ListSessionsHead + filter + SqliteStatements.ListSessionsTail);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.AddWithValue("$after", query.Cursor ?? "");
        command.Parameters.AddWithValue("$now", Now());
        command.Parameters.AddWithValue("$limit", query.PageSize + 1);
        if (query.Subject is not null)
        {
            command.Parameters.AddWithValue("$subject", query.Subject);
        }
        var records = await ReadRecordsAsync(command, cancellationToken).ConfigureAwait(false);
        var more = records.Count > query.PageSize;
        if (more)
        {
            records.RemoveAt(records.Count - 1);
        }
        return new SessionPage(records, more ? records[^1].Id : null);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Counts over the expiry index. The size is the database file plus its write-ahead log, in bytes: the whole file,
    /// including any tables the application keeps in it.
    /// </remarks>
    public async ValueTask<SessionStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var command = Command(connection, null, SqliteStatements.Statistics);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.AddWithValue("$now", Now());
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        long size = 0;
        foreach (var file in new[] { _databasePath, _databasePath + "-wal" })
        {
            var info = new FileInfo(file);
            if (info.Exists)
            {
                size += info.Length;
            }
        }
        return new SessionStoreStatistics(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), size, "database file and WAL");
    }

    /// <inheritdoc />
    /// <remarks>One statement on <c>tessera_sessions</c>; data and tokens go with their sessions (foreign keys cascade).</remarks>
    public async ValueTask<long> ClearAsync(CancellationToken cancellationToken = default) =>
        await WriteAsync(SqliteStatements.Clear, 0, static (_, _, _) => { }, cancellationToken).ConfigureAwait(false);
}
