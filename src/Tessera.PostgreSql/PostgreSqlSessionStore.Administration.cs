namespace Tessera.PostgreSql;

// Administration: listing, statistics and clearing, for operators' tools (never on the request path). The SQL is
// rewritten per call (a regex over a short text): these calls are rare.
public sealed partial class PostgreSqlSessionStore : ISessionStoreAdministration
{
    // The id as the store shows it, compared byte-wise ("C" collation) so the order does not depend on the locale.
    private const string ShownId = """COALESCE(s."tesseraTextId", s."id"::text)""";

    /// <inheritdoc />
    /// <remarks>
    /// Sessions come ordered by id, compared byte-wise (<c>COLLATE "C"</c>); the cursor is the last id returned. There is
    /// no index on that order, so each page sorts the matching rows: meant for operators, not for hot paths.
    /// </remarks>
    public async ValueTask<SessionPage> ListSessionsAsync(SessionQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        var filter = query.State switch
        {
            SessionState.Live => """ AND s."revokedAt" IS NULL AND s."tesseraExpiresAt" > $2""",
            SessionState.Expired => """ AND s."revokedAt" IS NULL AND s."tesseraExpiresAt" <= $2""",
            SessionState.Revoked => """ AND s."revokedAt" IS NOT NULL""",
            _ => " AND $2::timestamptz IS NOT NULL",
        };
        filter += query.Subject is null ? " AND $4::text IS NULL" : """ AND s."tesseraSubject" = $4""";
        var collated = _schema.Rewrite(ShownId) + " COLLATE \"C\"";
        var sql = _schema.Rewrite("SELECT " + SessionColumns + """ FROM "public"."sessionStore" s WHERE """)
            + collated + " > $1" + _schema.Rewrite(filter) + " ORDER BY " + collated + " LIMIT $3";
        await using var command = await CommandAsync(sql, idempotent: true, cancellationToken);
        command.Parameters.Add(Text(query.Cursor ?? ""));
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(new Npgsql.NpgsqlParameter<int> { TypedValue = query.PageSize + 1 });
        command.Parameters.Add(Text(query.Subject));
        await using var reader = await command.ReaderAsync(System.Data.CommandBehavior.Default, cancellationToken);
        var records = new List<SessionRecord>();
        while (await reader.ReadAsync(cancellationToken))
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
        var sql = _schema.Rewrite("""
            SELECT count(*) FILTER (WHERE s."revokedAt" IS NULL AND s."tesseraExpiresAt" > $1),
                   count(*) FILTER (WHERE s."revokedAt" IS NULL AND s."tesseraExpiresAt" <= $1),
                   count(*) FILTER (WHERE s."revokedAt" IS NOT NULL),
                   pg_total_relation_size($2::regclass) + pg_total_relation_size($3::regclass)
            FROM "public"."sessionStore" s
            """);
        await using var command = await CommandAsync(sql, idempotent: true, cancellationToken);
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(Text(SessionsTable));
        command.Parameters.Add(Text(TokensTable));
        await using var reader = await command.ReaderAsync(System.Data.CommandBehavior.SingleRow, cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new SessionStoreStatistics(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), "sessions and tokens tables with their indexes");
    }

    /// <inheritdoc />
    /// <remarks>
    /// One statement on the sessions table (tokens go with their sessions: the foreign key cascades). A Compas service
    /// sharing the table loses its sessions too.
    /// </remarks>
    public async ValueTask<long> ClearAsync(CancellationToken cancellationToken = default)
    {
        await using var command = await CommandAsync(_schema.Rewrite("""DELETE FROM "public"."sessionStore" """), idempotent: true, cancellationToken);
        return await command.ExecuteAsync(cancellationToken);
    }
}
