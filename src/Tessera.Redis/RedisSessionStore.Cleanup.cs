using StackExchange.Redis;

namespace Tessera.Redis;

// Cleanup and counting, bucket by bucket: the cleanup service's batches and the live count.
public sealed partial class RedisSessionStore : ISessionStoreCleanup, ISessionStoreCounter
{
    /// <summary>
    /// The most sessions one cleanup script deletes: 32. Redis runs a script alone, so a batch of 1,000 is split into
    /// scripts of this size, and requests get their turn between them.
    /// </summary>
    internal const int MaxSessionsPerCleanupScript = 32;

    /// <summary>How many buckets are read at once (one pipelined round of commands): 64.</summary>
    private const int BucketsPerRound = 64;

    /// <summary>
    /// How old an entry of a subject's index without its session must be before cleanup removes it: 1 minute, far longer
    /// than the moment between a sign-in adding its entry and creating its session.
    /// </summary>
    internal static readonly TimeSpan OrphanGrace = TimeSpan.FromMinutes(1);

    /// <inheritdoc />
    /// <remarks>
    /// Walks the buckets' expiry indexes (all 1,024 on every call that finds less than a batch), deleting each expired
    /// session with its tokens, pointers and index entries on its slot, then its entries in the subject index and the
    /// anonymous set, and the anonymous set's own expired entries.
    /// </remarks>
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
    /// <remarks>One <c>ZCOUNT</c> per bucket, sent in pipelined rounds: a cost for metrics and tools, not for requests.</remarks>
    public async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var counts = await PerBucketAsync(b => db.SortedSetLengthAsync(b + ":a", now, double.PositiveInfinity, Exclude.Start), cancellationToken).ConfigureAwait(false);
        return counts.Sum();
    }

    /// <summary>Runs <paramref name="read"/> for every bucket base, <see cref="BucketsPerRound"/> at a time.</summary>
    private async Task<T[]> PerBucketAsync<T>(Func<string, Task<T>> read, CancellationToken cancellationToken)
    {
        var results = new T[BucketCount];
        for (var start = 0; start < BucketCount; start += BucketsPerRound)
        {
            var round = new Task<T>[BucketsPerRound];
            for (var i = 0; i < BucketsPerRound; i++)
            {
                round[i] = read(_bases[start + i]);
            }
            var done = await Task.WhenAll(round).WaitAsync(cancellationToken).ConfigureAwait(false);
            done.CopyTo(results, start);
        }
        return results;
    }

    private async ValueTask<int> DeleteBatchAsync(string index, string cutoff, int batchSize, CancellationToken cancellationToken)
    {
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var deleted = 0;
        // Every bucket once; a bucket that filled its share may hold more, so it is visited again while the batch allows.
        var pending = new Queue<int>(Enumerable.Range(0, BucketCount));
        while (pending.Count > 0 && deleted < batchSize)
        {
            var remaining = batchSize - deleted;
            var count = Math.Min(Math.Min(BucketsPerRound, remaining), pending.Count);
            var share = Math.Clamp(remaining / count, 1, MaxSessionsPerCleanupScript);
            var buckets = new int[count];
            var round = new Task<RedisResult>[count];
            for (var i = 0; i < count; i++)
            {
                var bucket = _bases[buckets[i] = pending.Dequeue()];
                round[i] = db.ScriptEvaluateAsync(RedisScripts.DeleteBatch, [bucket + ":" + index], [bucket, Ms(_time.GetUtcNow()), _marginMs, cutoff, share]);
            }
            var replies = await Task.WhenAll(round).WaitAsync(cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < count; i++)
            {
                var purged = (RedisResult[])replies[i]!;
                deleted += (purged.Length - 1) / 2;
                if ((long)purged[0] == share)
                {
                    pending.Enqueue(buckets[i]);
                }
                await ForgetAsync(db, purged, 1).ConfigureAwait(false);
            }
        }
        if (index == "x" && _options.MaxAnonymousSessions is not null)
        {
            await db.SortedSetRemoveRangeByScoreAsync(_anonymousKey, double.NegativeInfinity, _time.GetUtcNow().ToUnixTimeMilliseconds()).ConfigureAwait(false);
        }
        if (deleted > 0)
        {
            Log.CleanupBatch(_logger, deleted);
        }
        return deleted;
    }
}
