using Npgsql;

namespace Tessera.PostgreSql;

// Cleanup and counting: the cleanup service's batches and the live count.
public sealed partial class PostgreSqlSessionStore : ISessionStoreCleanup, ISessionStoreCounter
{
    /// <inheritdoc />
    /// <remarks>Sessions Compas created have no deadline of their own ('infinity'): Compas's cleanup removes them.</remarks>
    public async ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var command = await CommandAsync(_sql.DeleteExpired, idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Time(Now()));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
        var deleted = await command.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        Log.CleanupBatch(_logger, deleted);
        return deleted;
    }

    /// <inheritdoc />
    public async ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var command = await CommandAsync(_sql.DeleteRevoked, idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Time(revokedBefore));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = batchSize });
        var deleted = await command.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        Log.CleanupBatch(_logger, deleted);
        return deleted;
    }

    /// <inheritdoc />
    public async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        var command = await CommandAsync(_sql.Count, idempotent: true, cancellationToken).ConfigureAwait(false);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(Time(Now()));
        var result = await command.ScalarAsync(cancellationToken).ConfigureAwait(false);
        return (long)result!;
    }
}
