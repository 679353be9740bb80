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

    public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken) =>
        Measure("create", (_store, record, cancellationToken), static s => s.Item1.CreateAsync(s.Item2, s.Item3));

    public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken) =>
        Measure("load", (_store, id, cancellationToken), static s => s.Item1.LoadAsync(s.Item2, s.Item3));

    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken) =>
        Measure("load_by_credential", (_store, credentialHash, cancellationToken), static s => s.Item1.LoadByCredentialAsync(s.Item2, s.Item3));

    public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken) =>
        Measure("apply", (_store, id, patch, cancellationToken), static s => s.Item1.ApplyAsync(s.Item2, s.Item3, s.Item4));

    public ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken) =>
        Measure("touch", (_store, id, lastSeenAt, idleExpiresAt, cancellationToken), static s => s.Item1.TouchAsync(s.Item2, s.Item3, s.Item4, s.Item5));

    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken) =>
        Measure("revoke", (_store, id, revokedAt, cancellationToken), static s => s.Item1.RevokeAsync(s.Item2, s.Item3, s.Item4));

    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken) =>
        Measure("delete", (_store, id, cancellationToken), static s => s.Item1.DeleteAsync(s.Item2, s.Item3));

    public ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(ISubjectSessionIndex index, string subject, CancellationToken cancellationToken) =>
        Measure("list_by_subject", (index, subject, cancellationToken), static s => s.Item1.ListBySubjectAsync(s.Item2, s.Item3));

    public ValueTask<IReadOnlyList<string>> TrimSubjectAsync(ISubjectSessionLimiter limiter, string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken) =>
        Measure("trim_subject", (limiter, subject, keep, order, mustKeepId, revokedAt, cancellationToken), static s => s.Item1.TrimSubjectAsync(s.Item2, s.Item3, s.Item4, s.Item5, s.Item6, s.Item7));

    public ValueTask<int> DeleteExpiredAsync(ISessionStoreCleanup cleanup, int batchSize, CancellationToken cancellationToken) =>
        Measure("delete_expired", (cleanup, batchSize, cancellationToken), static s => s.Item1.DeleteExpiredAsync(s.Item2, s.Item3));

    public ValueTask<int> DeleteRevokedAsync(ISessionStoreCleanup cleanup, DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken) =>
        Measure("delete_revoked", (cleanup, revokedBefore, batchSize, cancellationToken), static s => s.Item1.DeleteRevokedAsync(s.Item2, s.Item3, s.Item4));

    public ValueTask<bool> CreateTokensAsync(ISessionTokenStore tokens, TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken) =>
        Measure("create_tokens", (tokens, access, refresh, cancellationToken), static s => s.Item1.CreateTokensAsync(s.Item2, s.Item3, s.Item4));

    public ValueTask<TokenLookup?> LoadTokenAsync(ISessionTokenStore tokens, string tokenId, CancellationToken cancellationToken) =>
        Measure("load_token", (tokens, tokenId, cancellationToken), static s => s.Item1.LoadTokenAsync(s.Item2, s.Item3));

    public ValueTask<TokenRotationOutcome> RotateAsync(ISessionTokenStore tokens, string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken) =>
        Measure("rotate", (tokens, refreshTokenId, newAccess, newRefresh, now, cancellationToken), static s => s.Item1.RotateAsync(s.Item2, s.Item3, s.Item4, s.Item5, s.Item6));

    // The clock starts before the store is called: a store that does its work synchronously (the in-memory one, or a
    // driver that blocks) is measured too, and so is one that throws instead of returning a faulted task. The state is
    // a value tuple and the lambdas are static, so a measured call allocates no closure.
    private ValueTask<T> Measure<TState, T>(string operation, TState state, Func<TState, ValueTask<T>> call)
    {
        if (!_metrics.StoreMeasured)
        {
            return call(state);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<T> pending;
        try
        {
            pending = call(state);
        }
        catch (Exception e)
        {
            _metrics.StoreOperation(_storeName, operation, start, e);
            throw;
        }
        return MeasureAsync(pending, operation, start);
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
