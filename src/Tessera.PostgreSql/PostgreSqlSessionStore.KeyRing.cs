using Npgsql;
using NpgsqlTypes;

namespace Tessera.PostgreSql;

// The generated key ring (UseDataProtectionKeys): one row of the key ring table (migration 0004), saved only over the
// version it was read at. A save is not run again after a broken connection: had it committed, the caller's reload finds
// its own document, so "not saved" is always a safe answer.
public sealed partial class PostgreSqlSessionStore : IKeyRingStore
{
    private string KeyRingTable => _schema.Rewrite("\"public\".\"sessionStoreTesseraKeyRing\"");

    /// <inheritdoc />
    public async ValueTask<StoredKeyRing?> LoadKeyRingAsync(CancellationToken cancellationToken = default)
    {
        var command = await CommandAsync(_schema.Rewrite("SELECT \"version\", \"document\" FROM ") + KeyRingTable + _schema.Rewrite(" WHERE \"id\" = 1"), idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        var reader = await command.ReaderAsync(System.Data.CommandBehavior.SingleRow, cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? new StoredKeyRing(reader.GetInt64(0), reader.GetString(1)) : null;
    }

    /// <inheritdoc />
    /// <remarks>One statement: an insert that does nothing when the row exists, or an update guarded by the version.</remarks>
    public async ValueTask<bool> TrySaveKeyRingAsync(long expectedVersion, string document, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedVersion);
        var sql = expectedVersion == 0
            ? "INSERT INTO " + KeyRingTable + _schema.Rewrite(" (\"id\", \"version\", \"document\") VALUES (1, 1, $1) ON CONFLICT (\"id\") DO NOTHING")
            : "UPDATE " + KeyRingTable + _schema.Rewrite(" SET \"version\" = \"version\" + 1, \"document\" = $1 WHERE \"id\" = 1 AND \"version\" = $2");
        var command = await CommandAsync(sql, idempotent: false, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Text(document));
        if (expectedVersion != 0)
        {
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = expectedVersion });
        }
        return await command.ExecuteAsync(cancellationToken).ConfigureAwait(false) == 1;
    }
}
