using Tessera.Tokens;

namespace Tessera;

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
/// <para>
/// The file is split by capability: sessions here; <c>.Capacity.cs</c> (the bound), <c>.Cleanup.cs</c>,
/// <c>.SubjectLimit.cs</c> (per-user listing and limits), <c>.Tokens.cs</c>, <c>.Administration.cs</c> and
/// <c>.Indexes.cs</c> (the entry and the indexes).
/// </para>
/// </remarks>
public sealed partial class InMemorySessionStore : ISessionStore
{
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

    /// <summary>Holds <see cref="_gate"/> until disposed.</summary>
    private readonly ref struct Held(Lock gate)
    {
        public void Dispose() => gate.Exit();
    }
}
