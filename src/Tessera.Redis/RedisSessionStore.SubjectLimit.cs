using StackExchange.Redis;

namespace Tessera.Redis;

// Per-user sessions: listing a subject's sessions and trimming them to a limit. The subject's index is on the subject's
// slot and its sessions on theirs, so these read the index, then the sessions (in one pipelined batch), and revoke one
// session per script; a short lock on the subject's slot keeps two trims of one subject from interleaving.
public sealed partial class RedisSessionStore : ISubjectSessionIndex, ISubjectSessionLimiter
{
    /// <summary>How long a subject's trim lock is held at most, should its holder die: 5 seconds.</summary>
    internal static readonly TimeSpan TrimLockLifetime = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a trim waits for the subject's lock before it goes ahead without it: 30 seconds, six lock lifetimes, so a
    /// dead holder's lock has long expired and only a queue of live trims (50 parallel sign-ins of one user on a loaded
    /// machine) is waited out rather than raced.
    /// </summary>
    internal static readonly TimeSpan TrimLockWait = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var list = new List<SessionRecord>();
        foreach (var record in await SubjectSessionsAsync(db, subject, cancellationToken).ConfigureAwait(false))
        {
            if (record.IsActiveAt(now))
            {
                list.Add(record);
            }
        }
        // The index is ordered by when each session joined it; the contract orders by creation, ties kept stable.
        return list.OrderBy(r => r.CreatedAt).ToList();
    }

    /// <inheritdoc />
    /// <remarks>
    /// Reads the subject's live sessions, ranks them as one script did before, and revokes those beyond
    /// <paramref name="keep"/> one by one (each revoke is atomic on its session's slot), under a lock on the subject's
    /// slot so that trims of one subject run one after another. A trim that cannot take the lock within 30 seconds (the
    /// lock itself expires 5 seconds after its holder took it, should the holder die) proceeds without it: it may then
    /// revoke more than needed, never fewer.
    /// </remarks>
    public async ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisKey lockKey = string.Concat(_prefix, ":u:{", subject, "}:lock");
        RedisValue holder = Guid.NewGuid().ToString("N");
        var locked = await LockAsync(db, lockKey, holder, cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _time.GetUtcNow();
            var rows = (await SubjectSessionsAsync(db, subject, cancellationToken).ConfigureAwait(false)).Where(r => r.IsActiveAt(now)).ToList();
            var doomed = Beyond(rows, keep, order, mustKeepId);
            var revoked = new List<string>(doomed.Count);
            foreach (var id in doomed)
            {
                if (await RevokeAsync(id, revokedAt, cancellationToken).ConfigureAwait(false))
                {
                    revoked.Add(id);
                }
            }
            return revoked;
        }
        finally
        {
            if (locked)
            {
                // One compare-and-delete script: StackExchange.Redis's LockRelease is a WATCH transaction, which timed out
                // under load on the shared multiplexer (a WATCH holds up the connection's other commands).
                await db.ScriptEvaluateAsync(RedisScripts.ReleaseLock, [lockKey], [holder]).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The ids ranked beyond <paramref name="keep"/>: <paramref name="mustKeepId"/> first, then oldest created first, or
    /// most recently seen first; under <see cref="SessionLimitOrder.NewcomerOnly"/> only the newcomer, and only when the
    /// subject is over the limit.
    /// </summary>
    private static List<string> Beyond(List<SessionRecord> live, int keep, SessionLimitOrder order, string? mustKeepId)
    {
        if (live.Count <= keep)
        {
            return [];
        }
        bool Named(SessionRecord r) => string.Equals(r.Id, mustKeepId, StringComparison.Ordinal);
        if (order == SessionLimitOrder.NewcomerOnly)
        {
            return live.Exists(Named) ? [mustKeepId!] : [];
        }
        var first = live.OrderByDescending(Named);
        var ranked = order == SessionLimitOrder.OldestCreated
            ? first.ThenBy(r => r.CreatedAt).ThenBy(r => r.Id, StringComparer.Ordinal)
            : first.ThenByDescending(r => r.LastSeenAt).ThenByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id, StringComparer.Ordinal);
        return [.. ranked.Skip(keep).Select(r => r.Id)];
    }

    private async Task<bool> LockAsync(IDatabase db, RedisKey key, RedisValue holder, CancellationToken cancellationToken)
    {
        // A network wait, so real time: the store's clock decides expiry only (a test's fake clock never moves here).
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(2);
        while (true)
        {
            if (await db.LockTakeAsync(key, holder, TrimLockLifetime).ConfigureAwait(false))
            {
                return true;
            }
            if (System.Diagnostics.Stopwatch.GetElapsedTime(started) >= TrimLockWait)
            {
                return false;
            }
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 50));
        }
    }

    /// <summary>
    /// The sessions the subject's index names that still exist and still belong to the subject, any state. An entry
    /// whose session is gone is removed once it is older than <see cref="OrphanGrace"/> (a sign-in adds its entry just
    /// before it creates the session, and Redis's own expiry may remove a session without cleanup seeing it).
    /// </summary>
    private async Task<List<SessionRecord>> SubjectSessionsAsync(IDatabase db, string subject, CancellationToken cancellationToken)
    {
        var index = SubjectKey(subject);
        var entries = await db.SortedSetRangeByRankWithScoresAsync(index).WaitAsync(cancellationToken).ConfigureAwait(false);
        var reads = new Task<RedisResult>[entries.Length];
        for (var i = 0; i < entries.Length; i++)
        {
            reads[i] = db.ExecuteAsync("HGETALL", [SessionKey((string)entries[i].Element!)]);
        }
        await Task.WhenAll(reads).WaitAsync(cancellationToken).ConfigureAwait(false);
        var records = new List<SessionRecord>(entries.Length);
        var orphans = new List<RedisValue>();
        var orphanBefore = (_time.GetUtcNow() - OrphanGrace).ToUnixTimeMilliseconds();
        for (var i = 0; i < entries.Length; i++)
        {
            var reply = reads[i].Result;
            if (ParseSession((string)entries[i].Element!, reply) is { } record)
            {
                if (string.Equals(record.Subject, subject, StringComparison.Ordinal))
                {
                    records.Add(record);
                }
            }
            else if (entries[i].Score < orphanBefore)
            {
                orphans.Add(entries[i].Element);
            }
        }
        if (orphans.Count > 0)
        {
            await db.SortedSetRemoveAsync(index, [.. orphans]).ConfigureAwait(false);
        }
        return records;
    }
}
