namespace Tessera;

/// <summary>
/// A store that operators can inspect and empty: list every session page by page, count sessions by state, and delete
/// everything it holds. For tools (the <c>tessera</c> command line, admin pages), never for the request path: these
/// operations may read a large part of the store.
/// </summary>
/// <remarks>
/// The three states are disjoint: <see cref="SessionState.Revoked"/> wins over expiry, and a session is
/// <see cref="SessionState.Expired"/> when not revoked and the store's now is at or past its
/// <see cref="SessionRecord.ExpiresAt"/>. All of Tessera's stores implement it.
/// </remarks>
public interface ISessionStoreAdministration
{
    /// <summary>
    /// Lists one page of sessions, with their data, in an order the store keeps stable while the sessions do not
    /// change (see each store's remarks). Walk every page by passing <see cref="SessionPage.NextCursor"/> back until it
    /// is <see langword="null"/>: every session that exists for the whole walk and keeps its state is returned exactly once.
    /// </summary>
    /// <param name="query">Which sessions, from where, how many.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>
    /// The page. It may hold fewer than <see cref="SessionQuery.PageSize"/> sessions (even none) while
    /// <see cref="SessionPage.NextCursor"/> is not <see langword="null"/>: a store may bound the work of one call.
    /// </returns>
    /// <exception cref="ArgumentException">The cursor was not made by this store.</exception>
    ValueTask<SessionPage> ListSessionsAsync(SessionQuery query, CancellationToken cancellationToken = default);

    /// <summary>Counts the sessions by state and reports the store's size where the store can tell.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The statistics, as of the store's now.</returns>
    ValueTask<SessionStoreStatistics> GetStatisticsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes every session the store holds, with everything stored with them (data, tokens, index entries), and
    /// nothing else (not other tables, not other key prefixes). Every user is signed out.
    /// </summary>
    /// <param name="cancellationToken">Cancels the operation; a store that deletes in batches keeps what it already deleted.</param>
    /// <returns>How many sessions were deleted.</returns>
    ValueTask<long> ClearAsync(CancellationToken cancellationToken = default);
}

/// <summary>The states <see cref="ISessionStoreAdministration"/> tells sessions apart by.</summary>
public enum SessionState
{
    /// <summary>Not revoked and not expired: usable.</summary>
    Live = 0,

    /// <summary>Not revoked, past its expiry, and not yet deleted by cleanup.</summary>
    Expired = 1,

    /// <summary>Revoked (whether or not also expired), and not yet deleted by cleanup.</summary>
    Revoked = 2,
}

/// <summary>What <see cref="ISessionStoreAdministration.ListSessionsAsync"/> lists.</summary>
public sealed record SessionQuery
{
    /// <summary>The largest page size a store must honour: 1,000.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>Only sessions in this state; <see langword="null"/> (the default) lists every state.</summary>
    public SessionState? State { get; init; }

    /// <summary>Only sessions of this subject; <see langword="null"/> (the default) lists every subject and anonymous sessions.</summary>
    public string? Subject { get; init; }

    /// <summary>Where to continue: a <see cref="SessionPage.NextCursor"/> of an earlier call; <see langword="null"/> (the default) starts at the beginning.</summary>
    public string? Cursor { get; init; }

    /// <summary>The most sessions in the page. Default 100; 1 to <see cref="MaxPageSize"/>.</summary>
    public int PageSize { get; init; } = 100;

    /// <summary>Throws when <see cref="PageSize"/> is out of range; stores call this first.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="PageSize"/> is below 1 or above <see cref="MaxPageSize"/>.</exception>
    public void Validate()
    {
        if (PageSize is < 1 or > MaxPageSize)
        {
            throw new ArgumentOutOfRangeException(nameof(PageSize), PageSize, $"PageSize must be 1 to {MaxPageSize}.");
        }
        if (State is { } state && !Enum.IsDefined(state))
        {
            throw new ArgumentOutOfRangeException(nameof(State), state, "Unknown session state.");
        }
    }

    /// <summary>Whether <paramref name="record"/> matches <see cref="State"/> and <see cref="Subject"/> at <paramref name="now"/>.</summary>
    /// <param name="record">The session.</param>
    /// <param name="now">The store's now.</param>
    /// <returns><see langword="true"/> when the session belongs in the listing.</returns>
    public bool Matches(SessionRecord record, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(record);
        return (State is null || StateOf(record, now) == State)
            && (Subject is null || string.Equals(record.Subject, Subject, StringComparison.Ordinal));
    }

    /// <summary>The state of <paramref name="record"/> at <paramref name="now"/>.</summary>
    /// <param name="record">The session.</param>
    /// <param name="now">The store's now.</param>
    /// <returns>Revoked, else expired when <paramref name="now"/> is at or past its expiry, else live.</returns>
    public static SessionState StateOf(SessionRecord record, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(record);
        return record.RevokedAt is not null ? SessionState.Revoked
            : now >= record.ExpiresAt ? SessionState.Expired
            : SessionState.Live;
    }
}

/// <summary>One page of <see cref="ISessionStoreAdministration.ListSessionsAsync"/>.</summary>
/// <param name="Sessions">The sessions, in the store's order, with their data.</param>
/// <param name="NextCursor">Where the next page starts; <see langword="null"/> when the walk is over. Opaque: pass it back as is.</param>
public sealed record SessionPage(IReadOnlyList<SessionRecord> Sessions, string? NextCursor);

/// <summary>What <see cref="ISessionStoreAdministration.GetStatisticsAsync"/> reports.</summary>
/// <param name="Live">Sessions neither revoked nor expired.</param>
/// <param name="Expired">Sessions expired but not revoked, waiting for cleanup.</param>
/// <param name="Revoked">Revoked sessions, waiting for cleanup.</param>
/// <param name="SizeBytes">
/// The storage the store occupies, in bytes, as <paramref name="SizeDescription"/> explains; <see langword="null"/> when
/// the store cannot tell.
/// </param>
/// <param name="SizeDescription">What <paramref name="SizeBytes"/> measures, in a few words (it differs by store).</param>
public sealed record SessionStoreStatistics(long Live, long Expired, long Revoked, long? SizeBytes, string SizeDescription)
{
    /// <summary>Every session the store holds: <see cref="Live"/> + <see cref="Expired"/> + <see cref="Revoked"/>.</summary>
    public long Total => Live + Expired + Revoked;
}
