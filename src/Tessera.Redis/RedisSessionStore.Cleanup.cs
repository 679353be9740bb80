using System.Globalization;
using Tessera.Redis.Resp;

namespace Tessera.Redis;

// Cleanup and counting: the cleanup service's batches and the live count.
public sealed partial class RedisSessionStore : ISessionStoreCleanup, ISessionStoreCounter
{
    /// <inheritdoc />
    public ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return DeleteBatchAsync("x", Ms(_time.GetUtcNow()), batchSize, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return DeleteBatchAsync("r", Ms(revokedBefore), batchSize, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        var key = $"{_prefix}:a";
        var min = "(" + Ms(_time.GetUtcNow());
        var reply = await ReadAsync(c => c.ExecuteAsync("ZCOUNT", [key, min, "+inf"], cancellationToken), cancellationToken).ConfigureAwait(false);
        return reply.AsInt64();
    }

    /// <summary>
    /// The most sessions one cleanup script deletes: 32. Redis runs a script alone, so a batch of 1,000 is split into
    /// scripts of this size, and requests get their turn between them.
    /// </summary>
    internal const int MaxSessionsPerCleanupScript = 32;

    private async ValueTask<int> DeleteBatchAsync(string index, string cutoff, int batchSize, CancellationToken cancellationToken)
    {
        var deleted = 0;
        while (deleted < batchSize)
        {
            var chunk = Math.Min(batchSize - deleted, MaxSessionsPerCleanupScript);
            var args = Args(3);
            args.Add(index);
            args.Add(cutoff);
            args.Add(chunk.ToString(CultureInfo.InvariantCulture));
            var done = (int)(await EvalAsync(RedisScripts.DeleteBatch, $"{_prefix}:{index}", args, cancellationToken).ConfigureAwait(false)).AsInt64();
            deleted += done;
            if (done < chunk)
            {
                break;
            }
        }
        if (deleted > 0)
        {
            Log.CleanupBatch(_logger, deleted);
        }
        return deleted;
    }
}
