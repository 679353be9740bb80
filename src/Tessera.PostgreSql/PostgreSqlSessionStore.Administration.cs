namespace Tessera.PostgreSql;

// Administration: listing, statistics and clearing, for operators' tools (never on the request path).
public sealed partial class PostgreSqlSessionStore : ISessionStoreAdministration
{
    /// <inheritdoc />
    /// <remarks>
    /// Sessions come ordered by id, compared byte-wise (<c>COLLATE "C"</c>); the cursor is the last id returned. There is
    /// no index on that order, so each page sorts the matching rows: meant for operators, not for hot paths.
    /// </remarks>
    public async ValueTask<SessionPage> ListSessionsAsync(SessionQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        var command = await CommandAsync(_sql.ListSessions(query.State, query.Subject is not null), idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Text(query.Cursor ?? ""));
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(new Npgsql.NpgsqlParameter<int> { TypedValue = query.PageSize + 1 });
        command.Parameters.Add(Text(query.Subject));
        var reader = await command.ReaderAsync(System.Data.CommandBehavior.Default, cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        var records = new List<SessionRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            records.Add(ReadSession(reader, 0));
        }
        var more = records.Count > query.PageSize;
        if (more)
        {
            records.RemoveAt(records.Count - 1);
        }
        return new SessionPage(records, more ? records[^1].Id : null);
    }

    /// <inheritdoc />
    /// <remarks>
    /// One scan of the sessions table. The size is <c>pg_total_relation_size</c> of the sessions and tokens tables (their
    /// indexes and TOAST included), in bytes. Compas's own sessions in a shared table count too.
    /// </remarks>
    public async ValueTask<SessionStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        var command = await CommandAsync(_sql.Statistics, idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(Text(SessionsTable));
        command.Parameters.Add(Text(TokensTable));
        var reader = await command.ReaderAsync(System.Data.CommandBehavior.SingleRow, cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new SessionStoreStatistics(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), "sessions and tokens tables with their indexes");
    }

    /// <inheritdoc />
    /// <remarks>
    /// One statement on the sessions table (tokens go with their sessions: the foreign key cascades). A Compas service
    /// sharing the table loses its sessions too.
    /// </remarks>
    public async ValueTask<long> ClearAsync(CancellationToken cancellationToken = default)
    {
        var command = await CommandAsync(_sql.Clear, idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        return await command.ExecuteAsync(cancellationToken).ConfigureAwait(false);
    }
}
