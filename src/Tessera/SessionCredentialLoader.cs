using Microsoft.Extensions.Logging;
using Tessera.Tokens;

namespace Tessera;

/// <summary>What <see cref="SessionCredentialLoader.LoadAsync"/> found.</summary>
/// <param name="Record">The live session the credential points at, or <see langword="null"/>.</param>
/// <param name="TokenFailure">Why an access token found no session; <see cref="TokenFailure.None"/> otherwise.</param>
/// <param name="Rejection">Why a cookie token was refused before any store call; <see cref="CredentialRejection.None"/> otherwise.</param>
/// <param name="AccessTokenExpiresAt">The access token's expiry when an access token found its session; <see langword="null"/> otherwise.</param>
internal readonly record struct LoadedSession(SessionRecord? Record, TokenFailure TokenFailure, CredentialRejection Rejection, DateTimeOffset? AccessTokenExpiresAt = null);

/// <summary>
/// Turns the credential a client presented into the live session it points at: a cookie token is verified (format and
/// signature) and looked up by its hash, an access token is validated as a JWT and looked up by its token record. A bad,
/// expired or revoked credential finds no session, and is logged and counted without its value; a store failure throws
/// <see cref="SessionStoreUnavailableException"/>.
/// </summary>
internal sealed class SessionCredentialLoader(InstrumentedStore store, CookieCredential credentials, SessionTokenService tokens, SessionClock clock, ILogger logger)
{
    /// <summary>Loads the session <paramref name="presented"/> points at; no credential loads nothing.</summary>
    /// <remarks>
    /// Completes synchronously when the store does (the memory store, a near-cache hit): a request's authentication then
    /// runs no state machine here.
    /// </remarks>
    public ValueTask<LoadedSession> LoadAsync(string? presented, SessionCredentialKind kind, CancellationToken cancellationToken)
    {
        if (presented is null)
        {
            return default;
        }
        if (kind == SessionCredentialKind.AccessToken)
        {
            var pending = tokens.GetWithExpiryAsync(presented, cancellationToken);
            return pending.IsCompletedSuccessfully ? ValueTask.FromResult(TokenLoaded(pending.Result)) : AwaitTokenAsync(pending);
        }
        var rejection = credentials.Verify(presented, out var hash, out var route);
        if (rejection != CredentialRejection.None)
        {
            Log.CredentialRejected(logger, rejection);
            store.Metrics.Rejected("cookie", RejectionTag(rejection));
            return ValueTask.FromResult(new LoadedSession(null, TokenFailure.None, rejection));
        }
        var record = store.LoadByCredentialAsync(hash, route, cancellationToken);
        return record.IsCompletedSuccessfully ? ValueTask.FromResult(CookieLoaded(record.Result)) : AwaitCookieAsync(record);
    }

    private async ValueTask<LoadedSession> AwaitTokenAsync(ValueTask<(TokenResult<SessionRecord> Result, DateTimeOffset? ExpiresAt)> pending) =>
        TokenLoaded(await pending.ConfigureAwait(false));

    private async ValueTask<LoadedSession> AwaitCookieAsync(ValueTask<SessionRecord?> pending) =>
        CookieLoaded(await pending.ConfigureAwait(false));

    private LoadedSession TokenLoaded((TokenResult<SessionRecord> Result, DateTimeOffset? ExpiresAt) found)
    {
        var (result, expiresAt) = found;
        if (!result.Succeeded)
        {
            Log.AccessTokenRejected(logger, result.Reason);
            store.Metrics.Rejected("token", result.Reason);
        }
        return new LoadedSession(result.Value, result.Failure, CredentialRejection.None, expiresAt);
    }

    private LoadedSession CookieLoaded(SessionRecord? record)
    {
        if (record is not null && !record.IsActiveAt(clock.Now()))
        {
            record = null;
        }
        if (record is null)
        {
            Log.NoLiveSession(logger);
            store.Metrics.Rejected("cookie", "no_live_session");
        }
        return new LoadedSession(record, TokenFailure.None, CredentialRejection.None);
    }

    /// <summary>The stable <c>reason</c> tag of a cookie rejection.</summary>
    internal static string RejectionTag(CredentialRejection rejection) => rejection switch
    {
        CredentialRejection.Empty => "empty",
        CredentialRejection.TooLong => "too_long",
        CredentialRejection.Malformed => "malformed",
        CredentialRejection.BadSignature => "bad_signature",
        _ => "other",
    };
}
