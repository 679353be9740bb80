namespace Tessera;

// Cleanup and counting: the cleanup service's batches (in chunks that let readers in) and the live count.
public sealed partial class InMemorySessionStore : ISessionStoreCleanup, ISessionStoreCounter
{
    /// <summary>
    /// The most sessions cleanup deletes under one hold of the lock. A deletion at a million sessions costs about 1.4 µs
    /// (mostly cache misses), so a hold stays under about 50 µs.
    /// </summary>
    internal const int DeletionsPerLock = 32;

    // How many times cleanup spins or yields, at most, for waiting callers between two chunks.
    private const int MaxWaitForWaiters = 100;

    /// <inheritdoc />
    /// <remarks>
    /// Takes the sessions that expired first from the expiry index: O(log n) each, whatever the store holds. The lock is
    /// let go every 32 deletions and callers waiting for it go first; the store's now is read again each time, so
    /// the sessions deleted by one call are not one snapshot.
    /// </remarks>
    public ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(DeleteInChunks(batchSize, cutOff: null, _expiry));
    }

    /// <inheritdoc />
    /// <remarks>
    /// Takes the earliest revoked sessions from the revocation index: O(log n) each. The lock is let go every 32
    /// deletions, as in <see cref="DeleteExpiredAsync"/>.
    /// </remarks>
    public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(DeleteInChunks(batchSize, revokedBefore.UtcTicks, _revoked));
    }

    /// <inheritdoc />
    public ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            var now = NowTicks();
            long live = 0;
            foreach (var entry in _byId.Values)
            {
                if (entry.IsActiveAt(now))
                {
                    live++;
                }
            }
            return ValueTask.FromResult(live);
        }
    }

    // Deletes up to batchSize entries whose key in the heap is at or before the cut-off (null: the store's now, read
    // again per hold of the lock). Lets go of the lock every DeletionsPerLock deletions, and sooner (after at least one,
    // so cleanup always progresses) as soon as another caller is waiting for it, then lets the waiting callers go first:
    // a reader arriving during cleanup waits for about one deletion, not for a batch.
    private int DeleteInChunks<TPosition>(int batchSize, long? cutOff, EntryHeap<TPosition> heap)
        where TPosition : struct, IHeapPosition
    {
        var deleted = 0;
        var more = true;
        while (more && deleted < batchSize)
        {
            using (Hold())
            {
                var limit = cutOff ?? NowTicks();
                var stop = Math.Min(batchSize, deleted + DeletionsPerLock);
                while (deleted < stop)
                {
                    if (!heap.TryPeek(out var entry, out var key) || key > limit)
                    {
                        more = false;
                        break;
                    }
                    Remove(entry);
                    deleted++;
                    if (Volatile.Read(ref _waiting) > 0)
                    {
                        break;
                    }
                }
            }
            if (more)
            {
                LetWaitersIn();
            }
        }
        return deleted;
    }
}
