using System.Globalization;
using StackExchange.Redis;

namespace Tessera.Redis;

// Administration: listing, statistics and clearing, for operators' tools (never on the request path). Everything walks
// the store's own indexes, bucket by bucket; nothing scans the keyspace.
public sealed partial class RedisSessionStore : ISessionStoreAdministration
{
    private const int ClearBatchSize = 500;

    /// <summary>The most buckets one listing call walks before it returns a (possibly short) page with a cursor: 64.</summary>
    private const int BucketsPerListing = 64;

    /// <inheritdoc />
    /// <remarks>
    /// Walks the buckets in order and each bucket's expiry index (<c>P:{bNNN}:x</c>) by expiry, then id; with
    /// <see cref="SessionQuery.Subject"/> it walks the subject's index (<c>P:u:{subject}</c>) by the time each session
    /// joined it, then id. The cursor is the last position returned. A session touched during the walk moves in that order,
    /// so it may be missed or seen twice. One call walks at most 64 buckets and reads at most about 1,000 index members per
    /// bucket, so a sparse store or a selective filter can return a short or empty page with a cursor.
    /// </remarks>
    public async ValueTask<SessionPage> ListSessionsAsync(SessionQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        var (bucket, score, id) = ParseCursor(query.Cursor);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        if (query.Subject is not null)
        {
            return await ListSubjectAsync(db, query, score, id, cancellationToken).ConfigureAwait(false);
        }
        var state = query.State switch
        {
            SessionState.Live => "live",
            SessionState.Expired => "expired",
            SessionState.Revoked => "revoked",
            _ => "",
        };
        var records = new List<SessionRecord>(query.PageSize);
        for (var walked = 0; bucket < BucketCount && walked < BucketsPerListing; walked++)
        {
            var b = _bases[bucket];
            RedisValue[] args = [b, Ms(_time.GetUtcNow()), _marginMs, score, id, query.PageSize - records.Count, state, ""];
            var reply = await ReadAsync(static (d, s) => d.ScriptEvaluateAsync(RedisScripts.ListSessions, [s.Key], s.Args), (Key: (RedisKey)(b + ":x"), Args: args), cancellationToken).ConfigureAwait(false);
            var parts = (RedisResult[])reply!;
            for (var i = 1; i + 2 < parts.Length; i += 3)
            {
                if (ParseSession((string)parts[i + 1]!, parts[i + 2]) is { } record)
                {
                    records.Add(record);
                }
            }
            var next = (string)parts[0]!;
            if (next.Length > 0)
            {
                return new SessionPage(records, string.Create(CultureInfo.InvariantCulture, $"{bucket}/{next}"));
            }
            (bucket, score, id) = (bucket + 1, "", "");
            if (records.Count == query.PageSize)
            {
                break;
            }
        }
        return new SessionPage(records, bucket < BucketCount ? string.Create(CultureInfo.InvariantCulture, $"{bucket}/") : null);
    }

    /// <summary>A page of one subject's sessions, from its own index (small: one user's sessions).</summary>
    private async Task<SessionPage> ListSubjectAsync(IDatabase db, SessionQuery query, string score, string id, CancellationToken cancellationToken)
    {
        var entries = await db.SortedSetRangeByRankWithScoresAsync(SubjectKey(query.Subject!)).WaitAsync(cancellationToken).ConfigureAwait(false);
        var after = score.Length == 0 ? (double?)null : double.Parse(score, CultureInfo.InvariantCulture);
        var now = _time.GetUtcNow();
        var records = new List<SessionRecord>(query.PageSize);
        foreach (var entry in entries.OrderBy(e => e.Score).ThenBy(e => (string)e.Element!, StringComparer.Ordinal))
        {
            var member = (string)entry.Element!;
            if (after is { } s && (entry.Score < s || (entry.Score == s && string.CompareOrdinal(member, id) <= 0)))
            {
                continue;
            }
            var record = ParseSession(member, await db.ExecuteAsync("HGETALL", [SessionKey(member)]).ConfigureAwait(false));
            if (record is null || !string.Equals(record.Subject, query.Subject, StringComparison.Ordinal) || !InState(record, query.State, now))
            {
                continue;
            }
            if (records.Count == query.PageSize)
            {
                var last = records[^1];
                var lastScore = entries.First(e => (string)e.Element! == last.Id).Score;
                return new SessionPage(records, string.Create(CultureInfo.InvariantCulture, $"0/{lastScore:R}:{last.Id}"));
            }
            records.Add(record);
        }
        return new SessionPage(records, null);
    }

    private static bool InState(SessionRecord record, SessionState? state, DateTimeOffset now) => state switch
    {
        null => true,
        SessionState.Revoked => record.RevokedAt is not null,
        SessionState.Live => record.RevokedAt is null && record.IsActiveAt(now),
        _ => record.RevokedAt is null && !record.IsActiveAt(now),
    };

    /// <summary>Reads a cursor of this store: <c>bucket/</c> or <c>bucket/score:id</c>.</summary>
    private static (int Bucket, string Score, string Id) ParseCursor(string? cursor)
    {
        if (cursor is null)
        {
            return (0, "", "");
        }
        var slash = cursor.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || !int.TryParse(cursor.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out var bucket) || bucket >= BucketCount)
        {
            throw new ArgumentException("The cursor was not made by this store.", nameof(cursor));
        }
        var rest = cursor[(slash + 1)..];
        if (rest.Length == 0)
        {
            return (bucket, "", "");
        }
        var colon = rest.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !double.TryParse(rest.AsSpan(0, colon), NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            throw new ArgumentException("The cursor was not made by this store.", nameof(cursor));
        }
        return (bucket, rest[..colon], rest[(colon + 1)..]);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Counts from the buckets' indexes (<c>ZCOUNT</c>/<c>ZCARD</c> per bucket, no session is read). The size is Redis's
    /// <c>used_memory</c> (<c>INFO memory</c>) summed over the primaries: whole servers, every database and prefix, not
    /// this store alone.
    /// </remarks>
    public async ValueTask<SessionStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
        var db = connection.GetDatabase();
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var live = (await PerBucketAsync(b => db.SortedSetLengthAsync(b + ":a", now, double.PositiveInfinity, Exclude.Start), cancellationToken).ConfigureAwait(false)).Sum();
        var notRevoked = (await PerBucketAsync(b => db.SortedSetLengthAsync(b + ":a"), cancellationToken).ConfigureAwait(false)).Sum();
        var revoked = (await PerBucketAsync(b => db.SortedSetLengthAsync(b + ":r"), cancellationToken).ConfigureAwait(false)).Sum();
        long? size = null;
        foreach (var server in connection.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            // Through a script: StackExchange.Redis sends INFO itself only in admin mode, which the store never asks of a multiplexer.
            var info = (string?)await server.ExecuteAsync("EVAL", [RedisScripts.MemoryInfo, 0]).WaitAsync(cancellationToken).ConfigureAwait(false) ?? "";
            foreach (var line in info.Split('\n'))
            {
                if (line.StartsWith("used_memory:", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan("used_memory:".Length).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var bytes))
                {
                    size = (size ?? 0) + bytes;
                }
            }
        }
        return new SessionStoreStatistics(live, Math.Max(0, notRevoked - live), revoked, size, "Redis memory (INFO used_memory) summed over the primaries, all databases and prefixes");
    }

    /// <inheritdoc />
    /// <remarks>
    /// Walks every bucket in batches of 500, each batch one script that deletes its sessions with their tokens, pointers
    /// and index entries, then their entries in the subject indexes and the anonymous set; keys of other prefixes are
    /// never touched. Sessions created while it runs may survive.
    /// </remarks>
    public async ValueTask<long> ClearAsync(CancellationToken cancellationToken = default)
    {
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var counts = await PerBucketAsync(async b =>
        {
            long deleted = 0;
            while (true)
            {
                var reply = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.ClearBatch, [b + ":x"], [b, Ms(_time.GetUtcNow()), _marginMs, ClearBatchSize]).ConfigureAwait(false))!;
                deleted += (reply.Length - 1) / 2;
                await ForgetAsync(db, reply, 1).ConfigureAwait(false);
                if ((long)reply[0] == 0)
                {
                    return deleted;
                }
            }
        }, cancellationToken).ConfigureAwait(false);
        return counts.Sum();
    }
}
