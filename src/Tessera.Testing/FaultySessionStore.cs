namespace Tessera.Testing;

/// <summary>
/// A store that passes calls to an inner store unless told to fail or to be slow, for fault-injection tests (health
/// checks, error metrics). It implements only <see cref="ISessionStore"/>, whatever the inner store can do. Thread-safe.
/// </summary>
public sealed class FaultySessionStore : ISessionStore
{
    private readonly ISessionStore _inner;

    /// <summary>Wraps a store.</summary>
    /// <param name="inner">The store that does the work while no fault is set.</param>
    public FaultySessionStore(ISessionStore inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
    }

    /// <summary>Makes every call fail: the factory's exception is thrown (after <see cref="Delay"/>). <see langword="null"/> (the default) passes calls through.</summary>
    public Func<Exception>? Failure { get; set; }

    /// <summary>How long every call waits first, honouring its cancellation token. Default zero.</summary>
    public TimeSpan Delay { get; set; }

    /// <inheritdoc />
    public async ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken = default)
    {
        await FaultAsync(cancellationToken);
        return await _inner.CreateAsync(record, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        await FaultAsync(cancellationToken);
        return await _inner.LoadAsync(id, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken = default)
    {
        await FaultAsync(cancellationToken);
        return await _inner.LoadByCredentialAsync(credentialHash, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken = default)
    {
        await FaultAsync(cancellationToken);
        return await _inner.ApplyAsync(id, patch, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken = default)
    {
        await FaultAsync(cancellationToken);
        return await _inner.TouchAsync(id, lastSeenAt, idleExpiresAt, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        await FaultAsync(cancellationToken);
        return await _inner.RevokeAsync(id, revokedAt, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        await FaultAsync(cancellationToken);
        return await _inner.DeleteAsync(id, cancellationToken);
    }

    private async ValueTask FaultAsync(CancellationToken cancellationToken)
    {
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, cancellationToken);
        }
        if (Failure is { } failure)
        {
            throw failure();
        }
    }
}
