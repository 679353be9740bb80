using System.Diagnostics;
using Tessera.Tokens;

namespace Tessera;

/// <summary>
/// The one way the core calls its store: each call is timed into <c>tessera.store.operation.duration</c> and a throw
/// counted in <c>tessera.store.errors</c>, tagged with the store's type name and the operation.
/// </summary>
/// <remarks>
/// Instrumentation sits at the core's call sites rather than in a decorator registered as the store, so
/// <see cref="SessionManager.Store"/> stays the application's own store object: every <c>is</c> check for an optional
/// interface (cleanup, counter, subject index, tokens, administration) answers exactly as the store does, and code that
/// casts the registered store to its concrete type keeps working. Calls an application makes on the store itself are
/// not measured. With no listener attached, a call is passed straight through.
/// </remarks>
internal sealed class InstrumentedStore
{
    private readonly ISessionStore _store;
    private readonly TesseraMetrics _metrics;
    private readonly string _storeName;

    public InstrumentedStore(ISessionStore store, TesseraMetrics metrics)
    {
        _store = store;
        _metrics = metrics;
        _storeName = store.GetType().Name;
    }

    public TesseraMetrics Metrics => _metrics;

    // The clock starts before the store is called: a store that does its work synchronously (the in-memory one, or a
    // driver that blocks) is measured too, and so is one that throws instead of returning a faulted task.
    public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return _store.CreateAsync(record, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<bool> call;
        try
        {
            call = _store.CreateAsync(record, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "create", start, e);
            throw;
        }
        return MeasureAsync(call, "create", start);
    }

    public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return _store.LoadAsync(id, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<SessionRecord?> call;
        try
        {
            call = _store.LoadAsync(id, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "load", start, e);
            throw;
        }
        return MeasureAsync(call, "load", start);
    }

    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return _store.LoadByCredentialAsync(credentialHash, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<SessionRecord?> call;
        try
        {
            call = _store.LoadByCredentialAsync(credentialHash, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "load_by_credential", start, e);
            throw;
        }
        return MeasureAsync(call, "load_by_credential", start);
    }

    public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return _store.ApplyAsync(id, patch, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<bool> call;
        try
        {
            call = _store.ApplyAsync(id, patch, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "apply", start, e);
            throw;
        }
        return MeasureAsync(call, "apply", start);
    }

    public ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return _store.TouchAsync(id, lastSeenAt, idleExpiresAt, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<bool> call;
        try
        {
            call = _store.TouchAsync(id, lastSeenAt, idleExpiresAt, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "touch", start, e);
            throw;
        }
        return MeasureAsync(call, "touch", start);
    }

    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return _store.RevokeAsync(id, revokedAt, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<bool> call;
        try
        {
            call = _store.RevokeAsync(id, revokedAt, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "revoke", start, e);
            throw;
        }
        return MeasureAsync(call, "revoke", start);
    }

    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return _store.DeleteAsync(id, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<bool> call;
        try
        {
            call = _store.DeleteAsync(id, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "delete", start, e);
            throw;
        }
        return MeasureAsync(call, "delete", start);
    }

    public ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(ISubjectSessionIndex index, string subject, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return index.ListBySubjectAsync(subject, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<IReadOnlyList<SessionRecord>> call;
        try
        {
            call = index.ListBySubjectAsync(subject, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "list_by_subject", start, e);
            throw;
        }
        return MeasureAsync(call, "list_by_subject", start);
    }

    public ValueTask<int> DeleteExpiredAsync(ISessionStoreCleanup cleanup, int batchSize, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return cleanup.DeleteExpiredAsync(batchSize, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<int> call;
        try
        {
            call = cleanup.DeleteExpiredAsync(batchSize, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "delete_expired", start, e);
            throw;
        }
        return MeasureAsync(call, "delete_expired", start);
    }

    public ValueTask<int> DeleteRevokedAsync(ISessionStoreCleanup cleanup, DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return cleanup.DeleteRevokedAsync(revokedBefore, batchSize, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<int> call;
        try
        {
            call = cleanup.DeleteRevokedAsync(revokedBefore, batchSize, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "delete_revoked", start, e);
            throw;
        }
        return MeasureAsync(call, "delete_revoked", start);
    }

    public ValueTask<bool> CreateTokensAsync(ISessionTokenStore tokens, TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return tokens.CreateTokensAsync(access, refresh, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<bool> call;
        try
        {
            call = tokens.CreateTokensAsync(access, refresh, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "create_tokens", start, e);
            throw;
        }
        return MeasureAsync(call, "create_tokens", start);
    }

    public ValueTask<TokenLookup?> LoadTokenAsync(ISessionTokenStore tokens, string tokenId, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return tokens.LoadTokenAsync(tokenId, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<TokenLookup?> call;
        try
        {
            call = tokens.LoadTokenAsync(tokenId, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "load_token", start, e);
            throw;
        }
        return MeasureAsync(call, "load_token", start);
    }

    public ValueTask<TokenRotationOutcome> RotateAsync(ISessionTokenStore tokens, string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return tokens.RotateAsync(refreshTokenId, newAccess, newRefresh, now, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<TokenRotationOutcome> call;
        try
        {
            call = tokens.RotateAsync(refreshTokenId, newAccess, newRefresh, now, cancellationToken);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, "rotate", start, e);
            throw;
        }
        return MeasureAsync(call, "rotate", start);
    }

    private async ValueTask<T> MeasureAsync<T>(ValueTask<T> call, string operation, long start)
    {
        try
        {
            var result = await call.ConfigureAwait(false);
            _metrics.StoreOperation(_storeName, operation, start, null);
            return result;
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, operation, start, e);
            throw;
        }
    }
}
