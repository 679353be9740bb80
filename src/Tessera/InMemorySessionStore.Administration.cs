namespace Tessera;

// Administration: listing scans the dictionary per page (the store is bounded and listing is for operators).
public sealed partial class InMemorySessionStore : ISessionStoreAdministration
{
    /// <inheritdoc />
    /// <remarks>Sessions come ordered by id (ordinal); the cursor is the last id returned.</remarks>
    public ValueTask<SessionPage> ListSessionsAsync(SessionQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            // A full scan per page: this store holds at most MaxSessions records, and listing is for operators.
            var page = _byId.Values
                .Where(r => (query.Cursor is null || string.CompareOrdinal(r.Id, query.Cursor) > 0) && query.Matches(r, now))
                .OrderBy(r => r.Id, StringComparer.Ordinal)
                .Take(query.PageSize + 1)
                .Select(Copy)
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
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            long live = 0, expired = 0, revoked = 0;
            foreach (var record in _byId.Values)
            {
                switch (SessionQuery.StateOf(record, now))
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
        lock (_gate)
        {
            long count = _byId.Count;
            _byId.Clear();
            _idByCredential.Clear();
            _tokens.Clear();
            _tokenIdsBySession.Clear();
            return ValueTask.FromResult(count);
        }
    }
}
