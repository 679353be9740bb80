namespace Tessera.Sqlite;

// The generated key ring (UseDataProtectionKeys): one row of tessera_key_ring, saved only over the version it was read
// at. Read once an hour per instance, never on the request path, so it takes a connection of its own.
public sealed partial class SqliteSessionStore : IKeyRingStore
{
    private const string LoadKeyRing = "SELECT version, document FROM tessera_key_ring WHERE id = 1;";
    private const string InsertKeyRing = "INSERT INTO tessera_key_ring (id, version, document) VALUES (1, 1, $document) ON CONFLICT (id) DO NOTHING;";
    private const string UpdateKeyRing = "UPDATE tessera_key_ring SET version = version + 1, document = $document WHERE id = 1 AND version = $expected;";

    /// <inheritdoc />
    public async ValueTask<StoredKeyRing?> LoadKeyRingAsync(CancellationToken cancellationToken = default)
    {
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var command = Command(connection, null, LoadKeyRing);
        await using var commandScope = command.ConfigureAwait(false);
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? new StoredKeyRing(reader.GetInt64(0), reader.GetString(1)) : null;
    }

    /// <inheritdoc />
    /// <remarks>One statement inside the store's write transaction: an insert that does nothing when a row exists, or an update guarded by the version.</remarks>
    public async ValueTask<bool> TrySaveKeyRingAsync(long expectedVersion, string document, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedVersion);
        var changed = await WriteAsync(expectedVersion == 0 ? InsertKeyRing : UpdateKeyRing, (expectedVersion, document), static (_, command, state) =>
        {
            command.Parameters.AddWithValue("$document", state.document);
            if (state.expectedVersion != 0)
            {
                command.Parameters.AddWithValue("$expected", state.expectedVersion);
            }
        }, cancellationToken).ConfigureAwait(false);
        return changed == 1;
    }
}
