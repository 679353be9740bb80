using Tessera.Tokens;
namespace Tessera.Testing;

/// <summary>
/// A store that passes every call to an inner store and counts it, so tests can assert how much store work a request
/// did ("a read-only request makes no write", "a request without a cookie never calls the store"). Thread-safe.
/// </summary>
/// <remarks>
/// It implements every optional capability; a capability the inner store lacks throws
/// <see cref="NotSupportedException"/> when called, except <see cref="IRoutedSessionStore"/>, whose route is passed on
/// to a routed inner store and ignored otherwise (a routed load counts as <c>LoadByCredential</c>). A call is counted when it is made, even if the inner store throws.
/// Operation names are the store method names, with or without the <c>Async</c> suffix:
/// <c>Count(nameof(ISessionStore.TouchAsync))</c> and <c>Count("Touch")</c> are the same.
/// </remarks>
public sealed class CountingSessionStore : ISessionStore, IRoutedSessionStore, ISessionStoreCleanup, ISessionStoreCounter, ISubjectSessionIndex, ISessionTokenStore
{
    private static readonly string[] Names = Enum.GetNames<Operation>();

    private readonly long[] _counts = new long[Names.Length];

    /// <summary>Wraps a store.</summary>
    /// <param name="inner">The store that does the work.</param>
    public CountingSessionStore(ISessionStore inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
    }

    private enum Operation
    {
        Create,
        Load,
        LoadByCredential,
        Apply,
        Touch,
        Revoke,
        Delete,
        DeleteExpired,
        DeleteRevoked,
        Count,
        ListBySubject,
        CreateTokens,
        LoadToken,
        LoadRefreshToken,
        Rotate,
        TryRotate,
    }

    private long _rotations;

    /// <summary>The wrapped store.</summary>
    public ISessionStore Inner { get; }

    /// <summary>
    /// Read calls since creation or the last <see cref="Reset"/>: loads by id and by credential, and also counts and
    /// lists by subject, and token loads (for a request and for a refresh).
    /// </summary>
    public long Reads =>
        Get(Operation.Load) + Get(Operation.LoadByCredential) + Get(Operation.Count) + Get(Operation.ListBySubject)
        + Get(Operation.LoadToken) + Get(Operation.LoadRefreshToken);

    /// <summary>
    /// Write calls since creation or the last <see cref="Reset"/>: create, apply, touch, revoke, delete, delete-expired,
    /// delete-revoked, create-tokens, rotate and try-rotate (whether or not it rotated).
    /// </summary>
    public long Writes =>
        Get(Operation.Create) + Get(Operation.Apply) + Get(Operation.Touch) + Get(Operation.Revoke)
        + Get(Operation.Delete) + Get(Operation.DeleteExpired) + Get(Operation.DeleteRevoked)
        + Get(Operation.CreateTokens) + Get(Operation.Rotate) + Get(Operation.TryRotate);

    /// <summary>
    /// Refresh tokens rotated since creation or the last <see cref="Reset"/>, whichever way: a
    /// <see cref="RotateAsync"/> that answered <see cref="TokenRotationOutcome.Rotated"/>, or a
    /// <see cref="TryRotateAsync"/> that rotated. Calls that rotated nothing are not counted here.
    /// </summary>
    public long Rotations => Interlocked.Read(ref _rotations);

    /// <summary>Every call, reads and writes together.</summary>
    public long Calls => Reads + Writes;

    /// <summary>The calls of one operation since creation or the last <see cref="Reset"/>.</summary>
    /// <param name="operation">
    /// A store method name, with or without the <c>Async</c> suffix (case-sensitive): Create, Load, LoadByCredential,
    /// Apply, Touch, Revoke, Delete, DeleteExpired, DeleteRevoked, Count, ListBySubject, CreateTokens, LoadToken, LoadRefreshToken, Rotate,
    /// TryRotate.
    /// </param>
    /// <returns>The number of calls.</returns>
    /// <exception cref="ArgumentException">The name is not a store operation (so a typo cannot pass as "zero calls").</exception>
    public long Count(string operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        var name = operation.EndsWith("Async", StringComparison.Ordinal) ? operation[..^"Async".Length] : operation;
        var index = Array.IndexOf(Names, name);
        if (index < 0)
        {
            throw new ArgumentException($"'{operation}' is not a store operation; use one of: {string.Join(", ", Names)}.", nameof(operation));
        }
        return Interlocked.Read(ref _counts[index]);
    }

    /// <summary>Every operation's count, for assertion messages.</summary>
    /// <returns>Operation name to count, including zeros.</returns>
    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var snapshot = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < Names.Length; i++)
        {
            snapshot[Names[i]] = Interlocked.Read(ref _counts[i]);
        }
        return snapshot;
    }

    /// <summary>Sets every count back to zero.</summary>
    public void Reset()
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            Interlocked.Exchange(ref _counts[i], 0);
        }
        Interlocked.Exchange(ref _rotations, 0);
    }

    /// <summary>Describes the counts.</summary>
    /// <returns>For example <c>CountingSessionStore(Load=1, Touch=1)</c>, listing non-zero counts only.</returns>
    public override string ToString() =>
        $"CountingSessionStore({string.Join(", ", Snapshot().Where(p => p.Value != 0).Select(p => $"{p.Key}={p.Value}"))})";

    /// <inheritdoc />
    public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        Increment(Operation.Create);
        return Inner.CreateAsync(record, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        Increment(Operation.Load);
        return Inner.LoadAsync(id, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default)
    {
        Increment(Operation.LoadByCredential);
        return Inner.LoadByCredentialAsync(credentialHash, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, SessionRoute route, CancellationToken cancellationToken = default)
    {
        Increment(Operation.LoadByCredential);
        return Inner.LoadByCredentialAsync(credentialHash, route, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        Increment(Operation.Apply);
        return Inner.ApplyAsync(id, patch, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        Increment(Operation.Touch);
        return Inner.TouchAsync(id, lastSeenAt, idleExpiresAt, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        Increment(Operation.Revoke);
        return Inner.RevokeAsync(id, revokedAt, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        Increment(Operation.Delete);
        return Inner.DeleteAsync(id, cancellationToken);
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The inner store does not implement <see cref="ISessionStoreCleanup"/>.</exception>
    public ValueTask<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken = default)
    {
        Increment(Operation.DeleteExpired);
        return Capability<ISessionStoreCleanup>().DeleteExpiredAsync(batchSize, cancellationToken);
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The inner store does not implement <see cref="ISessionStoreCleanup"/>.</exception>
    public ValueTask<int> DeleteRevokedAsync(DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken = default)
    {
        Increment(Operation.DeleteRevoked);
        return Capability<ISessionStoreCleanup>().DeleteRevokedAsync(revokedBefore, batchSize, cancellationToken);
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The inner store does not implement <see cref="ISessionTokenStore"/>.</exception>
    public ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default)
    {
        Increment(Operation.CreateTokens);
        return Capability<ISessionTokenStore>().CreateTokensAsync(access, refresh, cancellationToken);
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The inner store does not implement <see cref="ISessionTokenStore"/>.</exception>
    public ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        Increment(Operation.LoadToken);
        return Capability<ISessionTokenStore>().LoadTokenAsync(tokenId, cancellationToken);
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The inner store does not implement <see cref="ISessionTokenStore"/>.</exception>
    public ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        Increment(Operation.LoadRefreshToken);
        return Capability<ISessionTokenStore>().LoadRefreshTokenAsync(tokenId, cancellationToken);
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The inner store does not implement <see cref="ISessionTokenStore"/>.</exception>
    public async ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        Increment(Operation.Rotate);
        var outcome = await Capability<ISessionTokenStore>().RotateAsync(refreshTokenId, newAccess, newRefresh, now, cancellationToken).ConfigureAwait(false);
        if (outcome == TokenRotationOutcome.Rotated)
        {
            Interlocked.Increment(ref _rotations);
        }
        return outcome;
    }

    /// <inheritdoc />
    /// <remarks>What the inner store says; <see langword="false"/> when it keeps no tokens.</remarks>
    public bool CanTryRotate => Inner is ISessionTokenStore { CanTryRotate: true };

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The inner store does not implement <see cref="ISessionTokenStore"/>.</exception>
    public async ValueTask<RotatedTokenExpiries?> TryRotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, TimeSpan clockSkew, CancellationToken cancellationToken = default)
    {
        Increment(Operation.TryRotate);
        var stored = await Capability<ISessionTokenStore>().TryRotateAsync(refreshTokenId, newAccess, newRefresh, now, clockSkew, cancellationToken).ConfigureAwait(false);
        if (stored is not null)
        {
            Interlocked.Increment(ref _rotations);
        }
        return stored;
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The inner store does not implement <see cref="ISessionStoreCounter"/>.</exception>
    public ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        Increment(Operation.Count);
        return Capability<ISessionStoreCounter>().CountAsync(cancellationToken);
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The inner store does not implement <see cref="ISubjectSessionIndex"/>.</exception>
    public ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        Increment(Operation.ListBySubject);
        return Capability<ISubjectSessionIndex>().ListBySubjectAsync(subject, cancellationToken);
    }

    private long Get(Operation operation) => Interlocked.Read(ref _counts[(int)operation]);

    private void Increment(Operation operation) => Interlocked.Increment(ref _counts[(int)operation]);

    private T Capability<T>()
        where T : class =>
        Inner as T ?? throw new NotSupportedException($"The wrapped store ({Inner.GetType().Name}) does not implement {typeof(T).Name}.");
}
