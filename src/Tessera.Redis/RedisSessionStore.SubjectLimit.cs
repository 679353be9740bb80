using Tessera.Redis.Resp;

namespace Tessera.Redis;

// Per-user sessions: listing a subject's sessions and trimming them to a limit.
public sealed partial class RedisSessionStore : ISubjectSessionIndex, ISubjectSessionLimiter
{
    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        var args = Args(0);
        var reply = await ReadAsync(c => Eval(c, RedisScripts.ListBySubject, $"{_prefix}:u:{subject}", args, cancellationToken), cancellationToken).ConfigureAwait(false);
        var parts = reply.AsArray() ?? [];
        var now = _time.GetUtcNow();
        var list = new List<SessionRecord>(parts.Count / 2);
        for (var i = 0; i + 1 < parts.Count; i += 2)
        {
            if (ParseSession(parts[i].AsString()!, parts[i + 1]) is { } record && record.IsActiveAt(now)
                && string.Equals(record.Subject, subject, StringComparison.Ordinal))
            {
                list.Add(record);
            }
        }
        // The set is ordered by creation time already; a stable sort keeps ties in the set's order.
        return list.OrderBy(r => r.CreatedAt).ToList();
    }

    /// <inheritdoc />
    /// <remarks>One Lua script over the subject's set: nothing interleaves with the ranking and the revocations.</remarks>
    public async ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        var args = Args(5);
        args.Add(subject);
        args.Add(keep.ToString(System.Globalization.CultureInfo.InvariantCulture));
        args.Add(order switch
        {
            SessionLimitOrder.OldestCreated => "c",
            SessionLimitOrder.NewcomerOnly => "n",
            _ => "s",
        });
        args.Add(mustKeepId ?? "");
        args.Add(Ms(revokedAt));
        var reply = await EvalAsync(RedisScripts.TrimSubject, $"{_prefix}:u:{subject}", args, cancellationToken).ConfigureAwait(false);
        return [.. (reply.AsArray() ?? []).Select(r => r.AsString()!)];
    }
}
