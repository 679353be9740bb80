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

    /// <summary>What happens when a new session would exceed <see cref="MaxSessions"/>. Default <see cref="StoreCapacityPolicy.EvictLeastRecentlyUsed"/>.</summary>
    public StoreCapacityPolicy CapacityPolicy { get; set; } = StoreCapacityPolicy.EvictLeastRecentlyUsed;
}

/// <summary>
/// A store in process memory, for development, tests and single-instance apps that accept losing sessions on restart.
/// Bounded: see <see cref="InMemorySessionStoreOptions.MaxSessions"/> for what happens at the bound.
/// </summary>
/// <remarks>
/// At the bound, expired sessions are dropped first. Then, under <see cref="StoreCapacityPolicy.EvictLeastRecentlyUsed"/>,
/// the least recently seen sessions (1% of the bound, at least one) are evicted in one pass so the scan is amortized;
/// under <see cref="StoreCapacityPolicy.Reject"/>, <see cref="CreateAsync"/> throws <see cref="SessionStoreFullException"/>.
/// </remarks>
public sealed partial class InMemorySessionStore : ISessionStore, ISessionStoreCleanup, ISessionStoreCounter, ISubjectSessionIndex, ISubjectSessionLimiter, ISessionTokenStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SessionRecord> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _idByCredential = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TokenRecord> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _tokenIdsBySession = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly InMemorySessionStoreOptions _options;

    /// <summary>Creates a store.</summary>
    /// <param name="timeProvider">The clock that decides expiry; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="options">Bounds; defaults when <see langword="null"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="InMemorySessionStoreOptions.MaxSessions"/> is below 1.</exception>
    public InMemorySessionStore(TimeProvider? timeProvider = null, InMemorySessionStoreOptions? options = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _options = options ?? new InMemorySessionStoreOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxSessions, 1, "options.MaxSessions");
    }

    /// <summary>How many records are held, including expired ones not yet collected and revoked ones.</summary>
    public int RecordCount
    {
        get
        {
            lock (_gate)
            {
                return _byId.Count;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        cancellationToken.ThrowIfCancellationRequested();
        var credential = Key(record.CredentialHash);
        lock (_gate)
        {
            if (_byId.ContainsKey(record.Id) || _idByCredential.ContainsKey(credential))
            {
                return ValueTask.FromResult(false);
            }
            if (_byId.Count >= _options.MaxSessions)
            {
                MakeRoom();
            }
            _byId[record.Id] = record with { CredentialHash = (byte[])record.CredentialHash.Clone(), Data = new Dictionary<string, string>(record.Data, StringComparer.Ordinal) };
            _idByCredential[credential] = record.Id;
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return ValueTask.FromResult(Live(id));
        }
    }

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var credential = Key(credentialHash.Span);
        lock (_gate)
        {
            return ValueTask.FromResult(_idByCredential.TryGetValue(credential, out var id) ? Live(id) : null);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(patch);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (Live(id) is not { } current)
            {
                return ValueTask.FromResult(false);
            }
            var data = patch.ClearData
                ? new Dictionary<string, string>(StringComparer.Ordinal)
                : new Dictionary<string, string>(current.Data, StringComparer.Ordinal);
            foreach (var key in patch.Removed)
            {
                data.Remove(key);
            }
            foreach (var (key, value) in patch.Set)
            {
                data[key] = value;
            }
            var credentialHash = current.CredentialHash;
            if (patch.NewCredentialHash is { } newHash)
            {
                var newKey = Key(newHash);
                if (_idByCredential.ContainsKey(newKey))
                {
                    return ValueTask.FromResult(false);
                }
                _idByCredential.Remove(Key(current.CredentialHash));
                _idByCredential[newKey] = id;
                credentialHash = (byte[])newHash.Clone();
            }
            // Records are immutable: readers holding the old one keep a consistent snapshot.
            _byId[id] = current with
            {
                Data = data,
                CredentialHash = credentialHash,
                Subject = patch.SubjectChanged ? patch.Subject : current.Subject,
                LastSeenAt = patch.LastSeenAt ?? current.LastSeenAt,
                IdleExpiresAt = patch.IdleExpiresAt ?? current.IdleExpiresAt,
            };
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (Live(id) is not { } current)
            {
                return ValueTask.FromResult(false);
            }
            _byId[id] = current with { LastSeenAt = lastSeenAt, IdleExpiresAt = idleExpiresAt };
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_byId.TryGetValue(id, out var current) || current.RevokedAt is not null)
            {
                return ValueTask.FromResult(false);
            }
            _idByCredential.Remove(Key(current.CredentialHash));
            _byId[id] = current with { RevokedAt = revokedAt };
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return ValueTask.FromResult(Remove(id));
        }
    }

    /// <inheritdoc />
    public ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var expired = _byId.Values.Where(r => r.ExpiresAt <= now).Take(batchSize).Select(r => r.Id).ToList();
            foreach (var id in expired)
            {
                Remove(id);
            }
            return ValueTask.FromResult(expired.Count);
        }
    }

    /// <inheritdoc />
    public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var revoked = _byId.Values.Where(r => r.RevokedAt <= revokedBefore).Take(batchSize).Select(r => r.Id).ToList();
            foreach (var id in revoked)
            {
                Remove(id);
            }
            return ValueTask.FromResult(revoked.Count);
        }
    }

    /// <inheritdoc />
    public ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            return ValueTask.FromResult((long)_byId.Values.Count(r => r.IsActiveAt(now)));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            IReadOnlyList<SessionRecord> list = _byId.Values
                .Where(r => r.IsActiveAt(now) && string.Equals(r.Subject, subject, StringComparison.Ordinal))
                .OrderBy(r => r.CreatedAt)
                .Select(Copy)
                .ToList();
            return ValueTask.FromResult(list);
        }
    }

    /// <inheritdoc />
    /// <remarks>Under the store's lock, so it is atomic with every other call.</remarks>
    public ValueTask<IReadOnlyList<string>> TrimSubjectAsync(string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var live = _byId.Values.Where(r => r.IsActiveAt(now) && string.Equals(r.Subject, subject, StringComparison.Ordinal));
            var first = live.OrderByDescending(r => string.Equals(r.Id, mustKeepId, StringComparison.Ordinal));
            var ranked = order == SessionLimitOrder.OldestCreated
                ? first.ThenBy(r => r.CreatedAt).ThenBy(r => r.Id, StringComparer.Ordinal)
                : first.ThenByDescending(r => r.LastSeenAt).ThenByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id, StringComparer.Ordinal);
            var revoked = ranked.Skip(keep).Select(r => r.Id).ToList();
            foreach (var id in revoked)
            {
                var current = _byId[id];
                _idByCredential.Remove(Key(current.CredentialHash));
                _byId[id] = current with { RevokedAt = revokedAt };
            }
            return ValueTask.FromResult<IReadOnlyList<string>>(revoked);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(access);
        ArgumentNullException.ThrowIfNull(refresh);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
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
    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenId);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_tokens.TryGetValue(tokenId, out var token))
            {
                return ValueTask.FromResult<TokenLookup?>(null);
            }
            var session = _byId.TryGetValue(token.SessionId, out var record) ? Copy(record) : null;
            return ValueTask.FromResult<TokenLookup?>(new TokenLookup(token, session));
        }
    }

    /// <inheritdoc />
    public ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshTokenId);
        ArgumentNullException.ThrowIfNull(newAccess);
        ArgumentNullException.ThrowIfNull(newRefresh);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
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
            AddToken(newAccess);
            AddToken(newRefresh);
            var idle = newRefresh.ExpiresAt < session.AbsoluteExpiresAt ? newRefresh.ExpiresAt : session.AbsoluteExpiresAt;
            _byId[session.Id] = _byId[session.Id] with
            {
                LastSeenAt = now,
                IdleExpiresAt = idle > session.IdleExpiresAt ? idle : session.IdleExpiresAt,
            };
            return ValueTask.FromResult(TokenRotationOutcome.Rotated);
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

    private void MakeRoom()
    {
        var now = _time.GetUtcNow();
        foreach (var id in _byId.Values.Where(r => r.ExpiresAt <= now).Select(r => r.Id).ToList())
        {
            Remove(id);
        }
        if (_byId.Count < _options.MaxSessions)
        {
            return;
        }
        if (_options.CapacityPolicy == StoreCapacityPolicy.Reject)
        {
            throw new SessionStoreFullException($"The in-memory session store holds its maximum of {_options.MaxSessions} sessions.");
        }
        var evict = Math.Max(1, _options.MaxSessions / 100);
        foreach (var id in _byId.Values.OrderBy(r => r.LastSeenAt).Take(evict).Select(r => r.Id).ToList())
        {
            Remove(id);
        }
    }

    private SessionRecord? Live(string id) =>
        _byId.TryGetValue(id, out var record) && record.IsActiveAt(_time.GetUtcNow()) ? Copy(record) : null;

    private bool Remove(string id)
    {
        if (!_byId.Remove(id, out var record))
        {
            return false;
        }
        if (_tokenIdsBySession.Remove(id, out var tokenIds))
        {
            foreach (var tokenId in tokenIds)
            {
                _tokens.Remove(tokenId);
            }
        }
        var credential = Key(record.CredentialHash);
        if (_idByCredential.TryGetValue(credential, out var owner) && owner == id)
        {
            _idByCredential.Remove(credential);
        }
        return true;
    }

    // The record's data dictionary is never mutated after it is stored, so a shallow copy only guards the hash array.
    private static SessionRecord Copy(SessionRecord record) => record with { CredentialHash = (byte[])record.CredentialHash.Clone() };

    private static string Key(ReadOnlySpan<byte> hash) => Convert.ToBase64String(hash);
}
