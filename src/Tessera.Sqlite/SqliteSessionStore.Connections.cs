using Microsoft.Data.Sqlite;

namespace Tessera.Sqlite;

// How the store talks to SQLite: the one write path (gate, connection, transaction), connections, pooled readers, and
// the rows-to-records mapping.
public sealed partial class SqliteSessionStore
{
    // Every write of this store takes this path once: the schema is ready, then the write joins the next group commit
    // (SqliteGroupCommit: one BEGIN IMMEDIATE transaction for the writes that queued while the last one ran, a savepoint
    // each). Work that returns early has written nothing; an exception rolls back that write alone. The work is a static
    // lambda and its input travels as state, so a write allocates no closure.
    private async ValueTask<TResult> WriteAsync<TState, TResult>(
        TState state,
        Func<SqliteSessionStore, SqliteWriter, TState, CancellationToken, ValueTask<TResult>> work,
        CancellationToken cancellationToken,
        bool oneStatement = false)
    {
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await _writes.RunAsync(this, state, work, oneStatement, cancellationToken).ConfigureAwait(false);
    }

    // A write of one statement (so it needs no savepoint in a group): bind sets its parameters; returns the rows it
    // changed.
    private ValueTask<int> WriteAsync<TState>(string sql, TState state, Action<SqliteSessionStore, SqliteCommand, TState> bind, CancellationToken cancellationToken) =>
        WriteAsync((sql, state, bind), static async (store, writer, write, cancellationToken) =>
        {
            var command = writer.Command(write.sql);
            write.bind(store, command, write.state);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken, oneStatement: true);

    private async ValueTask<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            var pragmas = Command(connection, null, _connectionPragmas);
            await using var pragmasScope = pragmas.ConfigureAwait(false);
            await pragmas.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
#pragma warning disable CA2100 // every text is a constant of SqliteStatements; values always travel as parameters
        command.CommandText = sql;
#pragma warning restore CA2100
        return command;
    }

    // One prepared statement reused per key: the patch is applied in SQL, never as a read-modify-write of the data.
    private static async ValueTask UpsertAsync(SqliteWriter writer, long pk, IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken)
    {
        if (values.Count == 0)
        {
            return;
        }
        var command = writer.Command(SqliteStatements.UpsertKey);
        command.Parameters.AddWithValue("$pk", pk);
        var key = command.Parameters.Add("$key", SqliteType.Text);
        var value = command.Parameters.Add("$value", SqliteType.Text);
        foreach (var (k, v) in values)
        {
            key.Value = k;
            value.Value = v;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    // A per-request read on a pooled reader with the statement prepared once: the first parameter is the key, the
    // second (when the statement has one) the store's now.
    private async ValueTask<List<SessionRecord>> ReadAsync(string sql, (string Name, SqliteType Type)[] parameters, object key, long? now, Action<SqliteDataReader>? firstRow, CancellationToken cancellationToken)
    {
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        var reader = await _readers.RentAsync(cancellationToken).ConfigureAwait(false);
        var healthy = false;
        try
        {
            var command = reader.Command(sql, parameters);
            command.Parameters[0].Value = key;
            if (now is { } value)
            {
                command.Parameters[1].Value = value;
            }
            var records = await ReadRecordsAsync(command, cancellationToken, firstRow).ConfigureAwait(false);
            healthy = true;
            return records;
        }
        finally
        {
            _readers.Return(reader, healthy);
        }
    }

    // Rows come ordered by session (one statement, one consistent snapshot); each session's data rows follow it.
    // firstRow, when given, reads the extra columns of the first row (a token load's token columns).
    private static async ValueTask<List<SessionRecord>> ReadRecordsAsync(SqliteCommand command, CancellationToken cancellationToken, Action<SqliteDataReader>? firstRow = null)
    {
        var records = new List<SessionRecord>();
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        long currentPk = 0;
        SessionRecord? current = null;
        Dictionary<string, string>? data = null;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (current is null)
            {
                firstRow?.Invoke(reader);
            }
            var pk = reader.GetInt64(0);
            if (current is null || pk != currentPk)
            {
                if (current is not null)
                {
                    records.Add(current);
                }
                currentPk = pk;
                data = new Dictionary<string, string>(StringComparer.Ordinal);
                current = new SessionRecord
                {
                    Id = reader.GetString(1),
                    CredentialHash = reader.IsDBNull(2) ? [] : (byte[])reader.GetValue(2),
                    Subject = reader.IsDBNull(3) ? null : reader.GetString(3),
                    CreatedAt = FromMs(reader.GetInt64(4)),
                    LastSeenAt = FromMs(reader.GetInt64(5)),
                    IdleExpiresAt = FromMs(reader.GetInt64(6)),
                    AbsoluteExpiresAt = FromMs(reader.GetInt64(7)),
                    RevokedAt = reader.IsDBNull(8) ? null : FromMs(reader.GetInt64(8)),
                    Metadata = new SessionMetadata(
                        reader.IsDBNull(9) ? null : reader.GetString(9),
                        reader.IsDBNull(10) ? null : reader.GetString(10),
                        reader.IsDBNull(11) ? null : reader.GetString(11)),
                    Data = data,
                };
            }
            if (!reader.IsDBNull(12))
            {
                data![reader.GetString(12)] = reader.GetString(13);
            }
        }
        if (current is not null)
        {
            records.Add(current);
        }
        return records;
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static long Ms(DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(long value) => DateTimeOffset.FromUnixTimeMilliseconds(value);
}
