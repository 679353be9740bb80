using System.Globalization;
using Tessera.Redis.Resp;

namespace Tessera.Redis;

// Administration: listing, statistics and clearing, for operators' tools (never on the request path). Everything walks
// the store's own sorted-set indexes; nothing scans the keyspace.
public sealed partial class RedisSessionStore : ISessionStoreAdministration
{
    private const int ClearBatchSize = 500;

    /// <inheritdoc />
    /// <remarks>
    /// Walks the expiry index (<c>P:x</c>), or with <see cref="SessionQuery.Subject"/> the subject's index
    /// (<c>P:u:&lt;subject&gt;</c>), so sessions come ordered by expiry (or by creation for a subject), then by id; the
    /// cursor is the last position returned. A session touched during the walk moves in that order, so it may be missed
    /// or seen twice. One call reads at most about 1,000 index members (four times the page size when larger), so a
    /// selective filter can return a short or empty page with a cursor.
    /// </remarks>
    public async ValueTask<SessionPage> ListSessionsAsync(SessionQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        string score = "", id = "";
        if (query.Cursor is { } cursor)
        {
            var colon = cursor.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !double.TryParse(cursor.AsSpan(0, colon), NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                throw new ArgumentException("The cursor was not made by this store.", nameof(query));
            }
            score = cursor[..colon];
            id = cursor[(colon + 1)..];
        }
        var args = Args(5);
        args.Add(score);
        args.Add(id);
        args.Add(query.PageSize.ToString(CultureInfo.InvariantCulture));
        args.Add(query.State switch
        {
            SessionState.Live => "live",
            SessionState.Expired => "expired",
            SessionState.Revoked => "revoked",
            _ => "",
        });
        args.Add(query.Subject ?? "");
        var index = query.Subject is null ? $"{_prefix}:x" : $"{_prefix}:u:{query.Subject}";
        var reply = await ReadAsync(c => Eval(c, RedisScripts.ListSessions, index, args, cancellationToken), cancellationToken).ConfigureAwait(false);
        var parts = reply.AsArray() ?? [];
        var records = new List<SessionRecord>(Math.Max(0, parts.Count / 3));
        for (var i = 1; i + 2 < parts.Count; i += 3)
        {
            if (ParseSession(parts[i + 1].AsString()!, parts[i + 2]) is { } record)
            {
                records.Add(record);
            }
        }
        var next = parts.Count > 0 ? parts[0].AsString() : null;
        return new SessionPage(records, string.IsNullOrEmpty(next) ? null : next);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Counts from the indexes (<c>ZCOUNT</c>/<c>ZCARD</c>, no session is read). The size is the Redis server's
    /// <c>used_memory</c> (<c>INFO memory</c>): the whole server, every database and prefix, not this store alone.
    /// </remarks>
    public async ValueTask<SessionStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        var now = "(" + Ms(_time.GetUtcNow());
        var active = $"{_prefix}:a";
        var revokedIndex = $"{_prefix}:r";
        var live = (await ReadAsync(c => c.ExecuteAsync("ZCOUNT", [active, now, "+inf"], cancellationToken), cancellationToken).ConfigureAwait(false)).AsInt64();
        var notRevoked = (await ReadAsync(c => c.ExecuteAsync("ZCARD", [active], cancellationToken), cancellationToken).ConfigureAwait(false)).AsInt64();
        var revoked = (await ReadAsync(c => c.ExecuteAsync("ZCARD", [revokedIndex], cancellationToken), cancellationToken).ConfigureAwait(false)).AsInt64();
        var info = (await ReadAsync(c => c.ExecuteAsync("INFO", ["memory"], cancellationToken), cancellationToken).ConfigureAwait(false)).AsString() ?? "";
        long? size = null;
        foreach (var line in info.Split('\n'))
        {
            if (line.StartsWith("used_memory:", StringComparison.Ordinal)
                && long.TryParse(line.AsSpan("used_memory:".Length).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var bytes))
            {
                size = bytes;
            }
        }
        return new SessionStoreStatistics(live, Math.Max(0, notRevoked - live), revoked, size, "Redis server memory (INFO used_memory), all databases and prefixes");
    }

    /// <inheritdoc />
    /// <remarks>
    /// Walks the expiry index in batches of 500, each batch one script that deletes its sessions with their tokens,
    /// pointers and index entries; keys of other prefixes are never touched. Sessions created while it runs may survive.
    /// </remarks>
    public async ValueTask<long> ClearAsync(CancellationToken cancellationToken = default)
    {
        long deleted = 0;
        while (true)
        {
            var args = Args(1);
            args.Add(ClearBatchSize.ToString(CultureInfo.InvariantCulture));
            var reply = (await EvalAsync(RedisScripts.ClearBatch, $"{_prefix}:x", args, cancellationToken).ConfigureAwait(false)).AsArray()!;
            deleted += reply[1].AsInt64();
            if (reply[0].AsInt64() == 0)
            {
                return deleted;
            }
        }
    }
}
