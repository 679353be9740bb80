using Tessera.Tokens;

namespace Tessera.Testing;

/// <summary>
/// A store that passes calls to an inner store unless told to misbehave, for fault-injection tests (the failure
/// contract, health checks, error metrics): fail, be slow, hang until released, or flap. Faults apply to every
/// operation, or to the ones <see cref="Affects"/> selects. It implements only <see cref="ISessionStore"/> and
/// <see cref="IRoutedSessionStore"/> (passing the route on to a routed inner store, ignoring it otherwise), whatever the
/// inner store can do; <see cref="FaultyTokenSessionStore"/> adds token sessions and the subject index. Thread-safe.
/// </summary>
/// <remarks>
/// Operation names are those of the <c>tessera.store.*</c> metrics: <c>create</c>, <c>load</c>,
/// <c>load_by_credential</c>, <c>apply</c>, <c>touch</c>, <c>revoke</c>, <c>delete</c>, and for tokens
/// <c>create_tokens</c>, <c>load_token</c>, <c>load_refresh_token</c>, <c>rotate</c>, and <c>list_by_subject</c>. A
/// routed load by credential is a <c>load_by_credential</c> too.
/// </remarks>
public class FaultySessionStore : ISessionStore, IRoutedSessionStore
{
    private readonly ISessionStore _inner;
    private readonly object _gate = new();
    private TaskCompletionSource _release = NewRelease();
    private readonly Dictionary<string, TaskCompletionSource> _entered = new(StringComparer.Ordinal);
    private long _matched;

    /// <summary>Wraps a store.</summary>
    /// <param name="inner">The store that does the work while no fault is set.</param>
    public FaultySessionStore(ISessionStore inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
    }

    /// <summary>The wrapped store.</summary>
    public ISessionStore Inner => _inner;

    /// <summary>
    /// Makes affected calls fail: the factory's exception is thrown (after <see cref="Delay"/>), without calling the
    /// inner store. <see langword="null"/> (the default) passes calls through.
    /// </summary>
    public Func<Exception>? Failure { get; set; }

    /// <summary>How long every affected call waits first, honouring its cancellation token. Default zero.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>
    /// Which operations the faults (<see cref="Failure"/>, <see cref="Delay"/>, <see cref="Hang"/>) apply to, by
    /// operation name. Default <see langword="null"/>: every operation.
    /// </summary>
    public Func<string, bool>? Affects { get; set; }

    /// <summary>
    /// Makes affected calls wait, without a timer, until <see cref="ReleaseHung"/> is called or the call's token is
    /// cancelled: a store that stopped answering. Default <see langword="false"/>.
    /// </summary>
    public bool Hang { get; set; }

    /// <summary>
    /// Flapping: when above 1, <see cref="Failure"/> hits only every <c>FailEvery</c>-th affected call (the 1st, the
    /// (n+1)-th, ...), and the others pass. Default 1: every affected call fails while <see cref="Failure"/> is set.
    /// </summary>
    public int FailEvery { get; set; } = 1;

    /// <summary>How many affected calls have been made since the store was created.</summary>
    public long AffectedCalls => Interlocked.Read(ref _matched);

    /// <summary>Turns every fault off (and releases hung calls).</summary>
    public void Heal()
    {
        Failure = null;
        Delay = TimeSpan.Zero;
        Hang = false;
        FailEvery = 1;
        Affects = null;
        ReleaseHung();
    }

    /// <summary>Lets every call waiting because of <see cref="Hang"/> go on to the inner store.</summary>
    public void ReleaseHung()
    {
        TaskCompletionSource release;
        lock (_gate)
        {
            release = _release;
            _release = NewRelease();
        }
        release.TrySetResult();
    }

    /// <summary>Completes when an affected call of the operation has started (one made after this call).</summary>
    /// <param name="operation">The operation name.</param>
    /// <returns>A task that completes when such a call arrives.</returns>
    public Task WhenCalledAsync(string operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        lock (_gate)
        {
            if (!_entered.TryGetValue(operation, out var entered))
            {
                entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _entered[operation] = entered;
            }
            return entered.Task;
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        await FaultAsync("create", cancellationToken);
        return await _inner.CreateAsync(record, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        await FaultAsync("load", cancellationToken);
        return await _inner.LoadAsync(id, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default)
    {
        await FaultAsync("load_by_credential", cancellationToken);
        return await _inner.LoadByCredentialAsync(credentialHash, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, SessionRoute route, CancellationToken cancellationToken = default)
    {
        await FaultAsync("load_by_credential", cancellationToken);
        return await _inner.LoadByCredentialAsync(credentialHash, route, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        await FaultAsync("apply", cancellationToken);
        return await _inner.ApplyAsync(id, patch, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        await FaultAsync("touch", cancellationToken);
        return await _inner.TouchAsync(id, lastSeenAt, idleExpiresAt, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        await FaultAsync("revoke", cancellationToken);
        return await _inner.RevokeAsync(id, revokedAt, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        await FaultAsync("delete", cancellationToken);
        return await _inner.DeleteAsync(id, cancellationToken);
    }

    /// <summary>Applies the faults in force to one call of an operation: signal, hang, delay, fail (in that order).</summary>
    /// <param name="operation">The operation name.</param>
    /// <param name="cancellationToken">The call's token.</param>
    /// <returns>A task that completes when the call may go on to the inner store.</returns>
    protected async ValueTask FaultAsync(string operation, CancellationToken cancellationToken)
    {
        if (Affects is { } affects && !affects(operation))
        {
            return;
        }
        var number = Interlocked.Increment(ref _matched);
        Task release;
        lock (_gate)
        {
            if (_entered.Remove(operation, out var entered))
            {
                entered.TrySetResult();
            }
            release = _release.Task;
        }
        if (Hang)
        {
            await release.WaitAsync(cancellationToken);
        }
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, cancellationToken);
        }
        if (Failure is { } failure && (FailEvery <= 1 || (number - 1) % FailEvery == 0))
        {
            throw failure();
        }
    }

    private static TaskCompletionSource NewRelease() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// A <see cref="FaultySessionStore"/> over a store with token sessions and a subject index (every built-in store), so
/// token endpoints and per-user listings can be put under faults too.
/// </summary>
public sealed class FaultyTokenSessionStore : FaultySessionStore, ISessionTokenStore, ISubjectSessionIndex
{
    private readonly ISessionTokenStore _tokens;
    private readonly ISubjectSessionIndex _index;

    /// <summary>Wraps a store.</summary>
    /// <param name="inner">The store; it must implement <see cref="ISessionTokenStore"/> and <see cref="ISubjectSessionIndex"/>.</param>
    /// <exception cref="ArgumentException">The store lacks one of them.</exception>
    public FaultyTokenSessionStore(ISessionStore inner)
        : base(inner)
    {
        _tokens = inner as ISessionTokenStore ?? throw new ArgumentException("The store does not implement ISessionTokenStore.", nameof(inner));
        _index = inner as ISubjectSessionIndex ?? throw new ArgumentException("The store does not implement ISubjectSessionIndex.", nameof(inner));
    }

    /// <inheritdoc />
    public async ValueTask<bool> CreateTokensAsync(TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken = default)
    {
        await FaultAsync("create_tokens", cancellationToken);
        return await _tokens.CreateTokensAsync(access, refresh, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<TokenLookup?> LoadTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        await FaultAsync("load_token", cancellationToken);
        return await _tokens.LoadTokenAsync(tokenId, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<TokenLookup?> LoadRefreshTokenAsync(string tokenId, CancellationToken cancellationToken = default)
    {
        await FaultAsync("load_refresh_token", cancellationToken);
        return await _tokens.LoadRefreshTokenAsync(tokenId, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<TokenRotationOutcome> RotateAsync(string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await FaultAsync("rotate", cancellationToken);
        return await _tokens.RotateAsync(refreshTokenId, newAccess, newRefresh, now, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(string subject, CancellationToken cancellationToken = default)
    {
        await FaultAsync("list_by_subject", cancellationToken);
        return await _index.ListBySubjectAsync(subject, cancellationToken);
    }
}
