using Microsoft.Data.Sqlite;

namespace Tessera.Sqlite;

// The bound: what a create does when the file holds MaxSessions (or MaxAnonymousSessions) records.
public sealed partial class SqliteSessionStore
{
    /// <summary>
    /// How many records the database holds, including expired ones not yet collected and revoked ones: the number the
    /// bound is checked against, read from the counter the triggers keep (no table scan).
    /// </summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The record count.</returns>
    public async ValueTask<long> CountRecordsAsync(CancellationToken cancellationToken = default)
    {
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var command = Command(connection, null, SqliteStatements.CountRecords);
        await using var commandScope = command.ConfigureAwait(false);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    // The two counters a create is checked against: every row, and the rows without a subject.
    private readonly record struct RowCounts(long All, long Anonymous);

    private bool IsFull(RowCounts counts, bool anonymous) =>
        counts.All >= _options.MaxSessions || (anonymous && counts.Anonymous >= _options.EffectiveMaxAnonymousSessions);

    // Inside the create's transaction: a rollback (Reject, a failure) undoes everything done here too. Expired rows go
    // first; then, when evicting, the least recently seen anonymous rows, and signed-in rows only for a signed-in
    // newcomer: an anonymous flood never signs anybody out.
    private async ValueTask MakeRoomAsync(SqliteWriter writer, bool anonymous, long now, CancellationToken cancellationToken)
    {
        var batch = Math.Max(1, _options.MaxSessions / 100);
        var expired = writer.Command(SqliteStatements.DeleteExpired);
        expired.Parameters.AddWithValue("$now", now);
        // Enough to make room; the cleanup service takes the rest, so one create never deletes without limit.
        expired.Parameters.AddWithValue("$limit", Math.Max(batch, TesseraDefaults.CleanupBatchSize));
        var deleted = await expired.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (deleted > 0)
        {
            Log.ExpiredDeletedAtBound(_logger, deleted);
        }
        var counts = await CountRowsAsync(writer, cancellationToken).ConfigureAwait(false);
        if (!IsFull(counts, anonymous))
        {
            return;
        }
        var anonymousBound = anonymous && counts.All < _options.MaxSessions;
        var bound = anonymousBound ? _options.EffectiveMaxAnonymousSessions : _options.MaxSessions;
        if (_options.CapacityPolicy == StoreCapacityPolicy.Reject)
        {
            // Debug, not Warning: under a flood this fires per request; the exception already reaches the application.
            Log.Rejected(_logger, bound, anonymousBound ? "anonymous " : "");
            throw new SessionStoreFullException($"The SQLite session store holds its maximum of {bound} {(anonymousBound ? "anonymous " : "")}sessions.");
        }
        // More than one batch only when a bound was lowered below what the file already holds.
        var over = anonymousBound ? counts.Anonymous - bound : counts.All - bound;
        var evict = Math.Max(Math.Max(1, bound / 100), over + 1);
        var evicted = await EvictAsync(writer, anonymous: true, evict, cancellationToken).ConfigureAwait(false);
        if (counts.All - evicted >= _options.MaxSessions)
        {
            if (anonymous)
            {
                Log.Rejected(_logger, _options.MaxSessions, "signed-in ");
                throw new SessionStoreFullException($"The SQLite session store holds its maximum of {_options.MaxSessions} sessions, and signed-in sessions are not evicted for an anonymous one.");
            }
            evicted += await EvictAsync(writer, anonymous: false, counts.All - evicted - _options.MaxSessions + 1, cancellationToken).ConfigureAwait(false);
        }
        Log.Evicted(_logger, bound, evicted);
    }

    private static async ValueTask<RowCounts> CountRowsAsync(SqliteWriter writer, CancellationToken cancellationToken)
    {
        var count = writer.Command(SqliteStatements.CountRows);
        var reader = await count.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new RowCounts(reader.GetInt64(0), reader.GetInt64(1));
    }

    // The least recently seen anonymous (or signed-in) rows.
    private static async ValueTask<int> EvictAsync(SqliteWriter writer, bool anonymous, long limit, CancellationToken cancellationToken)
    {
        var lru = writer.Command(anonymous ? SqliteStatements.EvictAnonymous : SqliteStatements.EvictSignedIn);
        lru.Parameters.AddWithValue("$limit", limit);
        return await lru.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
