using System.Runtime.InteropServices;
using Tessera.Tokens;

namespace Tessera;

/// <summary>Options of <see cref="InMemorySessionStore"/>.</summary>
public sealed class InMemorySessionStoreOptions
{
    /// <summary>
    /// The most sessions held at once (live, expired-but-not-yet-collected and revoked alike). Default
    /// <see cref="TesseraDefaults.MemoryStoreMaxSessions"/> (100,000); at least 1.
    /// </summary>
    public int MaxSessions { get; set; } = TesseraDefaults.MemoryStoreMaxSessions;

    /// <summary>
    /// The most anonymous sessions (records without a subject, in any state) held at once. Default
    /// <see langword="null"/>: half of <see cref="MaxSessions"/> (50,000 at the default bound), so anonymous visitors can
    /// never take the room signed-in users need. At least 1; a value above <see cref="MaxSessions"/> leaves anonymous
    /// sessions bounded by <see cref="MaxSessions"/> alone. Whatever it is, a signed-in session is never evicted to make
    /// room for an anonymous one.
    /// </summary>
    public int? MaxAnonymousSessions { get; set; }

    /// <summary>
    /// What happens when a new session would exceed <see cref="MaxSessions"/>, or a new anonymous one
    /// <see cref="MaxAnonymousSessions"/>. Default <see cref="StoreCapacityPolicy.EvictLeastRecentlyUsed"/>.
    /// </summary>
    public StoreCapacityPolicy CapacityPolicy { get; set; } = StoreCapacityPolicy.EvictLeastRecentlyUsed;

    /// <summary>The anonymous bound in force: <see cref="MaxAnonymousSessions"/>, or half of <see cref="MaxSessions"/> when unset.</summary>
    internal int EffectiveMaxAnonymousSessions =>
        Math.Min(MaxSessions, MaxAnonymousSessions ?? Math.Max(1, MaxSessions / TesseraDefaults.AnonymousShareDivisor));
}

/// <summary>
/// A store in process memory, for development, tests and single-instance apps that accept losing sessions on restart.
/// Bounded: see <see cref="InMemorySessionStoreOptions.MaxSessions"/> for what happens at the bound.
/// </summary>
/// <remarks>
/// At a bound (<see cref="InMemorySessionStoreOptions.MaxSessions"/>, or
/// <see cref="InMemorySessionStoreOptions.MaxAnonymousSessions"/> for a new anonymous session), expired sessions are
/// dropped first. Then, under <see cref="StoreCapacityPolicy.EvictLeastRecentlyUsed"/>, the least recently seen
/// anonymous sessions (1% of the bound, at least one) are evicted at once, so the next creations find room; signed-in
/// sessions are evicted only to make room for a new signed-in session, never for an anonymous one, which is refused with
/// <see cref="SessionStoreFullException"/> when only signed-in sessions are left. Under
/// <see cref="StoreCapacityPolicy.Reject"/>, <see cref="CreateAsync"/> throws <see cref="SessionStoreFullException"/>.
/// Indexes by expiry, last-seen time, revocation and subject make cleanup, eviction, listing and trimming cost in
/// proportion to the sessions they touch, not to the store's size. Every call takes one lock; cleanup lets go of it
/// every 32 deletions and lets callers waiting for it go first, so a batch never holds up readers for long.
/// </remarks>
public sealed partial class InMemorySessionStore : ISessionStore, ISessionStoreCleanup, ISessionStoreCounter, ISubjectSessionIndex, ISubjectSessionLimiter, ISessionTokenStore
{
    /// <summary>
    /// The most sessions cleanup deletes under one hold of the lock. A deletion at a million sessions costs about 1.4 µs
    /// (mostly cache misses), so a hold stays under about 50 µs.
    /// </summary>
    internal const int DeletionsPerLock = 32;

    // How many times cleanup spins or yields, at most, for waiting callers between two chunks.
    private const int MaxWaitForWaiters = 100;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _byId = new(StringComparer.Ordinal);

    // Keyed by each live or expired (not revoked) entry's own hash array; looked up by span, so a read allocates no key.
    private readonly Dictionary<byte[], Entry> _byCredential = new(CredentialHashComparer.Instance);
    private readonly Dictionary<byte[], Entry>.AlternateLookup<ReadOnlySpan<byte>> _byCredentialSpan;

    // Each subject's entries (any state) as a doubly linked list through Entry.SubjectPrevious/SubjectNext; this is the head.
    private readonly Dictionary<string, Entry> _subjects = new(StringComparer.Ordinal);
    private readonly EntryHeap<ExpiryPosition> _expiry = new();
    // Last-seen order, anonymous and signed-in sessions apart, so eviction can take anonymous ones first and never takes
    // a signed-in one for an anonymous newcomer. An entry sits in the heap of its current subject state.
    private readonly EntryHeap<RecencyPosition> _anonymousRecency = new();
    private readonly EntryHeap<RecencyPosition> _signedInRecency = new();
    private readonly EntryHeap<RevokedPosition> _revoked = new();
    private readonly Dictionary<string, TokenRecord> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _tokenIdsBySession = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly InMemorySessionStoreOptions _options;
    private int _waiting;

    /// <summary>Creates a store.</summary>
    /// <param name="timeProvider">The clock that decides expiry; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="options">Bounds; defaults when <see langword="null"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="InMemorySessionStoreOptions.MaxSessions"/> is below 1.</exception>
    public InMemorySessionStore(TimeProvider? timeProvider = null, InMemorySessionStoreOptions? options = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _options = options ?? new InMemorySessionStoreOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxSessions, 1, "options.MaxSessions");
        if (_options.MaxAnonymousSessions is { } maxAnonymous)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(maxAnonymous, 1, "options.MaxAnonymousSessions");
        }
        _byCredentialSpan = _byCredential.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>How many records are held, including expired ones not yet collected and revoked ones.</summary>
    public int RecordCount
    {
        get
        {
            using (Hold())
            {
                return _byId.Count;
            }
        }
    }

    /// <summary>
    /// How many stored sessions the last per-subject call (<see cref="ListBySubjectAsync"/>, <see cref="TrimSubjectAsync"/>
    /// or a listing by subject) looked at: the subject's own, whatever the store holds besides. For tests.
    /// </summary>
    internal int LastSubjectScanLength { get; private set; }

    /// <inheritdoc />
    public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(record.Id, "record.Id");
        ArgumentNullException.ThrowIfNull(record.CredentialHash, "record.CredentialHash");
        cancellationToken.ThrowIfCancellationRequested();
        // The copies are made before taking the lock: the caller keeps its hash array and dictionary to change as it likes.
        var entry = new Entry(record, (byte[])record.CredentialHash.Clone(), CompactSessionData.From(record.Data));
        using (Hold())
        {
            if (_byId.ContainsKey(entry.Id) || _byCredential.ContainsKey(entry.CredentialHash))
            {
                return ValueTask.FromResult(false);
            }
            MakeRoomFor(entry);
            _byId.Add(entry.Id, entry);
            if (entry.IsRevoked)
            {
                _revoked.Add(entry, entry.RevokedTicks);
            }
            else
            {
                _byCredential.Add(entry.CredentialHash, entry);
            }
            LinkSubject(entry);
            _expiry.Add(entry, entry.ExpiresTicks);
            RecencyOf(entry).Add(entry, entry.LastSeenTicks);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            return ValueTask.FromResult(Live(id)?.ToRecord());
        }
    }

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            return ValueTask.FromResult(
                _byCredentialSpan.TryGetValue(credentialHash.Span, out var entry) && entry.IsActiveAt(NowTicks()) ? entry.ToRecord() : null);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(patch);
        cancellationToken.ThrowIfCancellationRequested();
        var newHash = patch.NewCredentialHash is { } given ? (byte[])given.Clone() : null;
        using (Hold())
        {
            if (Live(id) is not { } entry)
            {
                return ValueTask.FromResult(false);
            }
            // Everything that can fail comes before the first change, so a patch applies whole or not at all.
            var data = CompactSessionData.Apply(entry.Data, patch);
            if (newHash is not null && _byCredential.ContainsKey(newHash))
            {
                return ValueTask.FromResult(false);
            }
            if (newHash is not null)
            {
                _byCredential.Remove(entry.CredentialHash);
                entry.CredentialHash = newHash;
                _byCredential.Add(newHash, entry);
            }
            entry.Data = data;
            if (patch.SubjectChanged && !string.Equals(patch.Subject, entry.Subject, StringComparison.Ordinal))
            {
                UnlinkSubject(entry);
                RecencyOf(entry).Remove(entry);
                entry.Subject = patch.Subject;
                RecencyOf(entry).Add(entry, entry.LastSeenTicks);
                LinkSubject(entry);
            }
            SetActivity(entry, patch.LastSeenAt?.UtcTicks ?? entry.LastSeenTicks, patch.IdleExpiresAt?.UtcTicks ?? entry.IdleExpiresTicks);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            if (Live(id) is not { } entry)
            {
                return ValueTask.FromResult(false);
            }
            SetActivity(entry, lastSeenAt.UtcTicks, idleExpiresAt.UtcTicks);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            if (!_byId.TryGetValue(id, out var entry) || entry.IsRevoked)
            {
                return ValueTask.FromResult(false);
            }
            Revoke(entry, revokedAt.UtcTicks);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            if (!_byId.TryGetValue(id, out var entry))
            {
                return ValueTask.FromResult(false);
            }
            Remove(entry);
            return ValueTask.FromResult(true);
        }
    }

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

    /// <inheritdoc />
    public ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(access);
        ArgumentNullException.ThrowIfNull(refresh);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            if (Live(access.SessionId) is null || refresh.SessionId != access.SessionId
                || _tokens.ContainsKey(access.Id) || _tokens.ContainsKey(refresh.Id) || access.Id == refresh.Id)
            {
                return ValueTask.FromResult(false);
            }
            AddToken(access);
            AddToken(refresh);
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LookUpToken(tokenId, withSuccessor: false, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Under the store's lock, so the four records are read at one moment.</remarks>
    public ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default) =>
        LookUpToken(tokenId, withSuccessor: true, cancellationToken);

    private ValueTask<TokenLookup?> LookUpToken(string tokenId, bool withSuccessor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            if (!_tokens.TryGetValue(tokenId, out var token))
            {
                return ValueTask.FromResult<TokenLookup?>(null);
            }
            var session = _byId.TryGetValue(token.SessionId, out var entry) ? entry.ToRecord() : null;
            var successor = withSuccessor && token.SuccessorId is { } successorId && _tokens.TryGetValue(successorId, out var next) ? next : null;
            var successorAccess = successor is not null && _tokens.TryGetValue(successor.PairedTokenId, out var paired) ? paired : null;
            return ValueTask.FromResult<TokenLookup?>(new TokenLookup(token, session) { Successor = successor, SuccessorAccess = successorAccess });
        }
    }

    /// <inheritdoc />
    public ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshTokenId);
        ArgumentNullException.ThrowIfNull(newAccess);
        ArgumentNullException.ThrowIfNull(newRefresh);
        cancellationToken.ThrowIfCancellationRequested();
        using (Hold())
        {
            if (!_tokens.TryGetValue(refreshTokenId, out var old) || old.Kind != TokenKind.Refresh)
            {
                return ValueTask.FromResult(TokenRotationOutcome.NotFound);
            }
            if (old.RevokedAt is not null)
            {
                return ValueTask.FromResult(TokenRotationOutcome.AlreadyRevoked);
            }
            if (Live(old.SessionId) is not { } session || newAccess.SessionId != old.SessionId || newRefresh.SessionId != old.SessionId)
            {
                return ValueTask.FromResult(TokenRotationOutcome.SessionNotLive);
            }
            if (_tokens.ContainsKey(newAccess.Id) || _tokens.ContainsKey(newRefresh.Id))
            {
                throw new InvalidOperationException("A new token id collided with a stored one.");
            }
            _tokens[old.Id] = old with { RevokedAt = now, SuccessorId = newRefresh.Id };
            if (_tokens.TryGetValue(old.PairedTokenId, out var oldAccess) && oldAccess.RevokedAt is null)
            {
                _tokens[oldAccess.Id] = oldAccess with { RevokedAt = now };
            }
            PruneExpiredTokens(old.SessionId, now - TesseraDefaults.ExpiredTokenRetention);
            AddToken(newAccess);
            AddToken(newRefresh);
            var idle = Math.Min(newRefresh.ExpiresAt.UtcTicks, session.AbsoluteExpiresTicks);
            SetActivity(session, now.UtcTicks, Math.Max(idle, session.IdleExpiresTicks));
            return ValueTask.FromResult(TokenRotationOutcome.Rotated);
        }
    }

    // Rotated tokens that expired before the cutoff can never be presented again (expired tokens are refused before the
    // store is asked): drop them, so a long-lived token session holds only its recent pairs.
    private void PruneExpiredTokens(string sessionId, DateTimeOffset cutoff)
    {
        if (_tokenIdsBySession.TryGetValue(sessionId, out var ids))
        {
            ids.RemoveAll(id =>
            {
                if (_tokens.TryGetValue(id, out var token) && token.RevokedAt is not null && token.ExpiresAt < cutoff)
                {
                    _tokens.Remove(id);
                    return true;
                }
                return false;
            });
        }
    }

    private void AddToken(TokenRecord token)
    {
        _tokens[token.Id] = token;
        if (!_tokenIdsBySession.TryGetValue(token.SessionId, out var ids))
        {
            _tokenIdsBySession[token.SessionId] = ids = [];
        }
        ids.Add(token.Id);
    }

    // Called before each creation, under the lock. Each removal is O(log n); at most 1% of the bound goes at once.
    private void MakeRoomFor(Entry newcomer)
    {
        var anonymous = newcomer.Subject is null;
        var maxAnonymous = _options.EffectiveMaxAnonymousSessions;
        bool Full() => _byId.Count >= _options.MaxSessions;
        bool AnonymousFull() => anonymous && _anonymousRecency.Count >= maxAnonymous;
        if (!Full() && !AnonymousFull())
        {
            return;
        }
        var evict = Math.Max(1, (Full() ? _options.MaxSessions : maxAnonymous) / 100);
        var now = NowTicks();
        for (var i = 0; i < evict && _expiry.TryPeek(out var entry, out var expires) && expires <= now; i++)
        {
            Remove(entry);
        }
        if (!Full() && !AnonymousFull())
        {
            return;
        }
        if (_options.CapacityPolicy == StoreCapacityPolicy.Reject)
        {
            throw Refusal(anonymous && !Full());
        }
        for (var i = 0; i < evict && _anonymousRecency.TryPeek(out var entry, out _); i++)
        {
            Remove(entry);
        }
        if (!Full())
        {
            return;
        }
        if (anonymous)
        {
            // Only signed-in sessions are left: they are never given up for an anonymous visitor.
            throw Refusal(anonymousBound: false);
        }
        for (var i = 0; i < evict && _signedInRecency.TryPeek(out var entry, out _); i++)
        {
            Remove(entry);
        }
    }

    private SessionStoreFullException Refusal(bool anonymousBound) => anonymousBound
        ? new SessionStoreFullException($"The in-memory session store holds its maximum of {_options.EffectiveMaxAnonymousSessions} anonymous sessions.")
        : new SessionStoreFullException($"The in-memory session store holds its maximum of {_options.MaxSessions} sessions.");

    private EntryHeap<RecencyPosition> RecencyOf(Entry entry) => entry.Subject is null ? _anonymousRecency : _signedInRecency;

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

    // Lock is not fair: a thread that lets go and takes it again at once wins over threads already waiting, so a
    // cleanup loop could keep readers out for its whole run. Waiting threads count themselves here, and the loop steps
    // aside until they have had their turn (bounded, so a steady stream of callers cannot stop cleanup).
    private Held Hold()
    {
        if (!_gate.TryEnter())
        {
            Interlocked.Increment(ref _waiting);
            _gate.Enter();
            Interlocked.Decrement(ref _waiting);
        }
        return new Held(_gate);
    }

    private void LetWaitersIn()
    {
        var spinner = default(SpinWait);
        for (var i = 0; i < MaxWaitForWaiters && Volatile.Read(ref _waiting) > 0; i++)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    private long NowTicks() => _time.GetUtcNow().UtcTicks;

    private Entry? Live(string id) => _byId.TryGetValue(id, out var entry) && entry.IsActiveAt(NowTicks()) ? entry : null;

    private void SetActivity(Entry entry, long lastSeenTicks, long idleExpiresTicks)
    {
        entry.LastSeenTicks = lastSeenTicks;
        entry.IdleExpiresTicks = idleExpiresTicks;
        RecencyOf(entry).Update(entry, lastSeenTicks);
        _expiry.Update(entry, entry.ExpiresTicks);
    }

    private void Revoke(Entry entry, long revokedTicks)
    {
        ForgetCredential(entry);
        entry.RevokedTicks = revokedTicks;
        _revoked.Add(entry, revokedTicks);
    }

    private void Remove(Entry entry)
    {
        _byId.Remove(entry.Id);
        if (_tokenIdsBySession.Count > 0 && _tokenIdsBySession.Remove(entry.Id, out var tokenIds))
        {
            foreach (var tokenId in tokenIds)
            {
                _tokens.Remove(tokenId);
            }
        }
        ForgetCredential(entry);
        UnlinkSubject(entry);
        _expiry.Remove(entry);
        RecencyOf(entry).Remove(entry);
        _revoked.Remove(entry);
    }

    // A revoked entry already gave its hash up, and another session may hold that hash now.
    private void ForgetCredential(Entry entry)
    {
        if (_byCredential.TryGetValue(entry.CredentialHash, out var owner) && ReferenceEquals(owner, entry))
        {
            _byCredential.Remove(entry.CredentialHash);
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

    /// <summary>Holds <see cref="_gate"/> until disposed.</summary>
    private readonly ref struct Held(Lock gate)
    {
        public void Dispose() => gate.Exit();
    }
}
