namespace Tessera.Sqlite;

// Cleanup and counting: the cleanup service's batches and the live count.
public sealed partial class SqliteSessionStore : ISessionStoreCleanup, ISessionStoreCounter
{
    /// <inheritdoc />
    /// <remarks>One short statement over the expiry index, so other writers wait at most one batch.</remarks>
    public ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return WriteAsync(SqliteStatements.DeleteExpired, batchSize, static (store, command, batchSize) =>
        {
            command.Parameters.AddWithValue("$now", store.Now());
            command.Parameters.AddWithValue("$limit", batchSize);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return WriteAsync(SqliteStatements.DeleteRevoked, (revokedBefore, batchSize), static (_, command, state) =>
        {
            command.Parameters.AddWithValue("$before", state.revokedBefore.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$limit", state.batchSize);
        }, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Reads the expiry index only; it is linear in the number of live sessions, meant for statistics.</remarks>
    public async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        await InitializeAsync(cancellationToken).ConfigureAwait(false);
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var command = Command(connection, null, SqliteStatements.CountLive);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.AddWithValue("$now", Now());
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }
}
