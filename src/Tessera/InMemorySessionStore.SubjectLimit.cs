using System.Runtime.InteropServices;

namespace Tessera;

// Per-user sessions: each subject's list of entries, listing a subject's sessions and trimming them to a limit.
public sealed partial class InMemorySessionStore : ISubjectSessionIndex, ISubjectSessionLimiter
{
    /// <inheritdoc />
    /// <remarks>Walks the subject's own sessions only; sessions created at the same instant come in id order.</remarks>
    public ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            var now = NowTicks();
            var live = SubjectEntries(subject, e => e.IsActiveAt(now));
            live.Sort(static (a, b) => a.CreatedTicks != b.CreatedTicks ? a.CreatedTicks.CompareTo(b.CreatedTicks) : string.CompareOrdinal(a.Id, b.Id));
            var records = new SessionRecord[live.Count];
            for (var i = 0; i < records.Length; i++)
            {
                records[i] = live[i].ToRecord();
            }
            return ValueTask.FromResult<IReadOnlyList<SessionRecord>>(records);
        }
    }

    /// <inheritdoc />
    /// <remarks>Under the store's lock, so it is atomic with every other call; walks the subject's own sessions only.</remarks>
    public ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            var now = NowTicks();
            var live = SubjectEntries(subject, e => e.IsActiveAt(now));
            if (live.Count <= keep)
            {
                return ValueTask.FromResult<IReadOnlyList<string>>([]);
            }
            if (order == SessionLimitOrder.NewcomerOnly)
            {
                var newcomer = live.Find(e => string.Equals(e.Id, mustKeepId, StringComparison.Ordinal));
                if (newcomer is null)
                {
                    return ValueTask.FromResult<IReadOnlyList<string>>([]);
                }
                Revoke(newcomer, revokedAt.UtcTicks);
                return ValueTask.FromResult<IReadOnlyList<string>>([newcomer.Id]);
            }
            var first = live.OrderByDescending(e => string.Equals(e.Id, mustKeepId, StringComparison.Ordinal));
            var ranked = order == SessionLimitOrder.OldestCreated
                ? first.ThenBy(e => e.CreatedTicks).ThenBy(e => e.Id, StringComparer.Ordinal)
                : first.ThenByDescending(e => e.LastSeenTicks).ThenByDescending(e => e.CreatedTicks).ThenByDescending(e => e.Id, StringComparer.Ordinal);
            var revoked = ranked.Skip(keep).ToList();
            var revokedTicks = revokedAt.UtcTicks;
            var ids = new string[revoked.Count];
            for (var i = 0; i < ids.Length; i++)
            {
                Revoke(revoked[i], revokedTicks);
                ids[i] = revoked[i].Id;
            }
            return ValueTask.FromResult<IReadOnlyList<string>>(ids);
        }
    }

    private void LinkSubject(Entry entry)
    {
        if (entry.Subject is not { } subject)
        {
            return;
        }
        ref var head = ref CollectionsMarshal.GetValueRefOrAddDefault(_subjects, subject, out _);
        entry.SubjectPrevious = null;
        entry.SubjectNext = head;
        if (head is not null)
        {
            head.SubjectPrevious = entry;
        }
        head = entry;
    }

    private void UnlinkSubject(Entry entry)
    {
        if (entry.Subject is not { } subject)
        {
            return;
        }
        if (entry.SubjectNext is { } next)
        {
            next.SubjectPrevious = entry.SubjectPrevious;
        }
        if (entry.SubjectPrevious is { } previous)
        {
            previous.SubjectNext = entry.SubjectNext;
        }
        else if (entry.SubjectNext is { } newHead)
        {
            _subjects[subject] = newHead;
        }
        else
        {
            _subjects.Remove(subject);
        }
        entry.SubjectPrevious = entry.SubjectNext = null;
    }

    // The subject's entries that match, found by walking its list; LastSubjectScanLength records how many were looked at.
    private List<Entry> SubjectEntries(string subject, Func<Entry, bool> matches)
    {
        var found = new List<Entry>();
        var examined = 0;
        for (var entry = _subjects.GetValueOrDefault(subject); entry is not null; entry = entry.SubjectNext)
        {
            examined++;
            if (matches(entry))
            {
                found.Add(entry);
            }
        }
        LastSubjectScanLength = examined;
        return found;
    }
}
