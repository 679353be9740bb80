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
/// <para>
/// It is also where the failure contract starts: a request-path call that throws, or does not answer within
/// <see cref="TesseraOptions.StoreTimeout"/> on the injected clock, surfaces as <see cref="SessionStoreUnavailableException"/>
/// (the metrics still see the store's own exception type). A cancellation the caller asked for stays an
/// <see cref="OperationCanceledException"/>. A call that completes synchronously (the in-memory store, a near-cache hit)
/// costs no timer.
/// </para>
/// </remarks>
internal sealed class InstrumentedStore
{
    private readonly ISessionStore _store;
    private readonly TesseraMetrics _metrics;
    private readonly string _storeName;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;

    public InstrumentedStore(ISessionStore store, TesseraMetrics metrics, TimeSpan? timeout = null, TimeProvider? time = null)
    {
        _store = store;
        _metrics = metrics;
        _storeName = store.GetType().Name;
        // The in-memory store does no I/O: there is nothing to wait for, so nothing to time.
        _timeout = store is InMemorySessionStore || timeout is null ? Timeout.InfiniteTimeSpan : timeout.Value;
        _time = time ?? TimeProvider.System;
    }

    public TesseraMetrics Metrics => _metrics;

    /// <summary>The store measured: for <c>is</c> checks of its optional capabilities, never for calls.</summary>
    public ISessionStore Store => _store;

    public ValueTask<bool> CreateAsync(SessionRecord record, CancellationToken cancellationToken) =>
        Call("create", (_store, record), static (s, ct) => s.Item1.CreateAsync(s.Item2, ct), cancellationToken);

    public ValueTask<SessionRecord?> LoadAsync(string id, CancellationToken cancellationToken) =>
        Call("load", (_store, id), static (s, ct) => s.Item1.LoadAsync(s.Item2, ct), cancellationToken);

    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, CancellationToken cancellationToken) =>
        Call("load_by_credential", (_store, credentialHash), static (s, ct) => s.Item1.LoadByCredentialAsync(s.Item2, ct), cancellationToken);

    /// <summary>Loads by credential, giving the route to a store that needs it (<see cref="IRoutedSessionStore"/>).</summary>
    public ValueTask<SessionRecord?> LoadByCredentialAsync(ReadOnlyMemory<byte> credentialHash, SessionRoute route, CancellationToken cancellationToken) =>
        _store is IRoutedSessionStore routed
            ? Call("load_by_credential", (routed, credentialHash, route), static (s, ct) => s.Item1.LoadByCredentialAsync(s.Item2, s.Item3, ct), cancellationToken)
            : LoadByCredentialAsync(credentialHash, cancellationToken);

    public ValueTask<bool> ApplyAsync(string id, SessionPatch patch, CancellationToken cancellationToken) =>
        Call("apply", (_store, id, patch), static (s, ct) => s.Item1.ApplyAsync(s.Item2, s.Item3, ct), cancellationToken);

    public ValueTask<bool> TouchAsync(string id, DateTimeOffset lastSeenAt, DateTimeOffset idleExpiresAt, CancellationToken cancellationToken) =>
        Call("touch", (_store, id, lastSeenAt, idleExpiresAt), static (s, ct) => s.Item1.TouchAsync(s.Item2, s.Item3, s.Item4, ct), cancellationToken);

    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken) =>
        Call("revoke", (_store, id, revokedAt), static (s, ct) => s.Item1.RevokeAsync(s.Item2, s.Item3, ct), cancellationToken);

    public ValueTask<bool> DeleteAsync(string id, CancellationToken cancellationToken) =>
        Call("delete", (_store, id), static (s, ct) => s.Item1.DeleteAsync(s.Item2, ct), cancellationToken);

    public ValueTask<IReadOnlyList<SessionRecord>> ListBySubjectAsync(ISubjectSessionIndex index, string subject, CancellationToken cancellationToken) =>
        Call("list_by_subject", (index, subject), static (s, ct) => s.Item1.ListBySubjectAsync(s.Item2, ct), cancellationToken);

    public ValueTask<IReadOnlyList<string>> TrimSubjectAsync(ISubjectSessionLimiter limiter, string subject, int keep, SessionLimitOrder order, string? mustKeepId, DateTimeOffset revokedAt, CancellationToken cancellationToken) =>
        Call("trim_subject", (limiter, subject, keep, order, mustKeepId, revokedAt), static (s, ct) => s.Item1.TrimSubjectAsync(s.Item2, s.Item3, s.Item4, s.Item5, s.Item6, ct), cancellationToken);

    // Cleanup runs in the background with its own error handling and batch pacing: measured, never timed or translated.
    public ValueTask<int> DeleteExpiredAsync(ISessionStoreCleanup cleanup, int batchSize, CancellationToken cancellationToken) =>
        Measure("delete_expired", (cleanup, batchSize), static (s, ct) => s.Item1.DeleteExpiredAsync(s.Item2, ct), cancellationToken);

    public ValueTask<int> DeleteRevokedAsync(ISessionStoreCleanup cleanup, DateTimeOffset revokedBefore, int batchSize, CancellationToken cancellationToken) =>
        Measure("delete_revoked", (cleanup, revokedBefore, batchSize), static (s, ct) => s.Item1.DeleteRevokedAsync(s.Item2, s.Item3, ct), cancellationToken);

    public ValueTask<bool> CreateTokensAsync(ISessionTokenStore tokens, TokenRecord access, TokenRecord refresh, CancellationToken cancellationToken) =>
        Call("create_tokens", (tokens, access, refresh), static (s, ct) => s.Item1.CreateTokensAsync(s.Item2, s.Item3, ct), cancellationToken);

    public ValueTask<TokenLookup?> LoadTokenAsync(ISessionTokenStore tokens, string tokenId, CancellationToken cancellationToken) =>
        Call("load_token", (tokens, tokenId), static (s, ct) => s.Item1.LoadTokenAsync(s.Item2, ct), cancellationToken);

    public ValueTask<TokenLookup?> LoadRefreshTokenAsync(ISessionTokenStore tokens, string tokenId, CancellationToken cancellationToken) =>
        Call("load_refresh_token", (tokens, tokenId), static (s, ct) => s.Item1.LoadRefreshTokenAsync(s.Item2, ct), cancellationToken);

    public ValueTask<TokenRotationOutcome> RotateAsync(ISessionTokenStore tokens, string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, CancellationToken cancellationToken) =>
        Call("rotate", (tokens, refreshTokenId, newAccess, newRefresh, now), static (s, ct) => s.Item1.RotateAsync(s.Item2, s.Item3, s.Item4, s.Item5, ct), cancellationToken);

    public ValueTask<RotatedTokenExpiries?> TryRotateAsync(ISessionTokenStore tokens, string refreshTokenId, TokenRecord newAccess, TokenRecord newRefresh, DateTimeOffset now, TimeSpan clockSkew, CancellationToken cancellationToken) =>
        Call("try_rotate", (tokens, refreshTokenId, newAccess, newRefresh, now, clockSkew), static (s, ct) => s.Item1.TryRotateAsync(s.Item2, s.Item3, s.Item4, s.Item5, s.Item6, ct), cancellationToken);

    // A request-path call: measured, bounded by the timeout once it goes asynchronous, and any failure but the caller's
    // own cancellation becomes SessionStoreUnavailableException. On a timeout the store's call is left to finish (or fail)
    // on its own, bounded by its driver's timeouts: the request stops waiting for it, which is what the contract promises.
    private ValueTask<T> Call<TState, T>(string operation, TState state, Func<TState, CancellationToken, ValueTask<T>> call, CancellationToken cancellationToken)
    {
        ValueTask<T> pending;
        try
        {
            pending = Measure(operation, state, call, cancellationToken);
        }
        catch (Exception e) when (IsStoreFailure(e, cancellationToken))
        {
            return ValueTask.FromException<T>(SessionStoreUnavailableException.Failed(operation, e));
        }
        return pending.IsCompletedSuccessfully ? pending : AwaitAsync(pending, operation, cancellationToken);
    }

    private async ValueTask<T> AwaitAsync<T>(ValueTask<T> pending, string operation, CancellationToken cancellationToken)
    {
        if (_timeout == Timeout.InfiniteTimeSpan)
        {
            try
            {
                return await pending.ConfigureAwait(false);
            }
            catch (Exception e) when (IsStoreFailure(e, cancellationToken))
            {
                throw SessionStoreUnavailableException.Failed(operation, e);
            }
        }
        var task = pending.AsTask();
        try
        {
            return await task.WaitAsync(_timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e) when (!task.IsCompleted)
        {
            // Nobody awaits the abandoned call any more: observe its outcome so a late failure is not left unobserved.
            _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw SessionStoreUnavailableException.TimedOutAfter(operation, _timeout, e);
        }
        catch (Exception e) when (IsStoreFailure(e, cancellationToken))
        {
            throw SessionStoreUnavailableException.Failed(operation, e);
        }
    }

    // A store that refuses data it cannot hold (the cookie store, past its chunk bound) has not failed: its
    // SessionDataTooLargeException stays itself, and the middleware answers 413 rather than 503. Nor has one refusing a
    // write it cannot make where it is called (SessionWriteRefusedException: the cookie store in a hub invocation).
    private static bool IsStoreFailure(Exception e, CancellationToken cancellationToken) =>
        !(e is OperationCanceledException && cancellationToken.IsCancellationRequested)
        && e is not SessionStoreUnavailableException
        && e is not SessionStoreFullException
        && e is not SessionDataTooLargeException
        && e is not SessionWriteRefusedException;

    // The clock starts before the store is called: a store that does its work synchronously (the in-memory one, or a
    // driver that blocks) is measured too, and so is one that throws instead of returning a faulted task. The state is
    // a value tuple and the lambdas are static, so a measured call allocates no closure.
    private ValueTask<T> Measure<TState, T>(string operation, TState state, Func<TState, CancellationToken, ValueTask<T>> call, CancellationToken cancellationToken)
    {
        if (!_metrics.StoreMeasured)
        {
            return call(state, cancellationToken);
        }
        var start = Stopwatch.GetTimestamp();
        ValueTask<T> pending;
        try
        {
            pending = call(state, cancellationToken);
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
