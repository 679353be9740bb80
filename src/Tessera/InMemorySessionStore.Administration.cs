namespace Tessera;

// Administration: listing every session scans the dictionary per page (the store is bounded and listing is for
// operators); listing one subject's sessions walks that subject's index only.
public sealed partial class InMemorySessionStore : ISessionStoreAdministration
{
    /// <inheritdoc />
    /// <remarks>
    /// Sessions come ordered by id (ordinal); the cursor is the last id returned. With <see cref="SessionQuery.Subject"/>
    /// only that subject's sessions are looked at; without it every page looks at every session.
    /// </remarks>
    public ValueTask<SessionPage> ListSessionsAsync(SessionQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            var nowTicks = NowTicks();
            IEnumerable<Entry> candidates = query.Subject is { } subject
                ? SubjectEntries(subject, e => Follows(e, query.Cursor))
                : _byId.Values.Where(e => Follows(e, query.Cursor));
            var page = candidates
                .Where(e => query.State is not { } state || StateOf(e, nowTicks) == state)
                .OrderBy(e => e.Id, StringComparer.Ordinal)
                .Take(query.PageSize + 1)
                .Select(e => e.ToRecord())
                .ToList();
            var more = page.Count > query.PageSize;
            if (more)
            {
                page.RemoveAt(page.Count - 1);
            }
            return ValueTask.FromResult(new SessionPage(page, more ? page[^1].Id : null));
        }
    }

    /// <inheritdoc />
    /// <remarks>The size is not reported: the records live on the managed heap, shared with everything else.</remarks>
    public ValueTask<SessionStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            var now = NowTicks();
            long live = 0, expired = 0, revoked = 0;
            foreach (var entry in _byId.Values)
            {
                switch (StateOf(entry, now))
                {
                    case SessionState.Live: live++; break;
                    case SessionState.Expired: expired++; break;
                    default: revoked++; break;
                }
            }
            return ValueTask.FromResult(new SessionStoreStatistics(live, expired, revoked, null, "not measured (process memory)"));
        }
    }

    /// <inheritdoc />
    public ValueTask<long> ClearAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            long count = _byId.Count;
            _byId.Clear();
            _byCredential.Clear();
            _subjects.Clear();
            _expiry.Clear();
            _anonymousRecency.Clear();
            _signedInRecency.Clear();
            _revoked.Clear();
            _tokens.Clear();
            _tokenIdsBySession.Clear();
            return ValueTask.FromResult(count);
        }
    }

    private static bool Follows(Entry entry, string? cursor) => cursor is null || string.CompareOrdinal(entry.Id, cursor) > 0;

    // The same states as SessionQuery.StateOf, without building a record per session.
    private static SessionState StateOf(Entry entry, long nowTicks) =>
        entry.IsRevoked ? SessionState.Revoked : nowTicks >= entry.ExpiresTicks ? SessionState.Expired : SessionState.Live;
}
