using Microsoft.Extensions.Logging;

namespace Tessera.Tokens;

/// <summary>
/// Token sessions, with Compas's operations under .NET names: <see cref="CreateAsync"/>, <see cref="GetAsync"/>,
/// <see cref="UpdateAsync"/>, <see cref="InvalidateAsync"/>, <see cref="RefreshAsync"/> and <see cref="CleanupAsync"/>.
/// The sessions are the same sessions cookies use (same store, data and revocation).
/// </summary>
/// <remarks>
/// Every failure caused by the token is a <see cref="TokenResult{T}"/> with a stable reason, never an exception; an
/// exception means the store failed. Needs a store that implements <see cref="ISessionTokenStore"/>.
/// </remarks>
public sealed class SessionTokenService
{
    private readonly InstrumentedStore _store;
    private readonly TesseraOptions _sessionOptions;
    private readonly TesseraTokenOptions _options;
    private readonly SessionClock _clock;
    private readonly CookieCredential _credentials;
    private readonly SessionRevoker _revoker;
    private readonly SubjectSessionLimit _limit;
    private readonly SessionReporter _reporter;
    private readonly TesseraMetrics _metrics;
    private readonly ILogger _logger;

    internal SessionTokenService(
        InstrumentedStore store,
        TesseraOptions options,
        SessionClock clock,
        SigningKeyRing keys,
        CookieCredential credentials,
        SessionRevoker revoker,
        SubjectSessionLimit limit,
        SessionReporter reporter,
        ILogger logger)
    {
        _store = store;
        _sessionOptions = options;
        _options = options.Tokens;
        _clock = clock;
        _credentials = credentials;
        _revoker = revoker;
        _limit = limit;
        _reporter = reporter;
        _metrics = store.Metrics;
        _logger = logger;
        Codec = new JwtTokenCodec(keys, _options);
    }

    /// <summary>The JWT codec in use.</summary>
    public JwtTokenCodec Codec { get; }

    private ISessionTokenStore Store => _store.Store as ISessionTokenStore
        ?? throw new InvalidOperationException($"The session store {_store.Store.GetType().Name} does not support token sessions (it does not implement ISessionTokenStore).");

    /// <summary>Creates a session for a token client and returns its first token pair.</summary>
    /// <param name="subject">The signed-in subject, or <see langword="null"/> for an anonymous token session.</param>
    /// <param name="data">Initial data (keys to JSON texts), or <see langword="null"/>.</param>
    /// <param name="metadata">Metadata to record, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the store writes.</param>
    /// <returns>The pair.</returns>
    /// <exception cref="ArgumentException">A data key is reserved or a value is not JSON, or a value holds a NUL character.</exception>
    /// <exception cref="SessionDataTooLargeException">The data is larger than <see cref="TesseraOptions.MaxDataBytes"/> (and, for an update, larger than what is stored).</exception>
    /// <exception cref="SessionStoreUnavailableException">The store failed or did not answer within <see cref="TesseraOptions.StoreTimeout"/>.</exception>
    /// <exception cref="SessionLimitExceededException">
    /// <see cref="TesseraOptions.MaxSessionsPerSubject"/> refused the sign-in (policy
    /// <see cref="SessionLimitPolicy.RefuseNewSignIn"/>); use <see cref="TryCreateAsync"/> to get that as a result instead.
    /// </exception>
    public async ValueTask<TokenPair> CreateAsync(string? subject, IReadOnlyDictionary<string, string>? data = null, SessionMetadata? metadata = null, CancellationToken cancellationToken = default)
    {
        var result = await TryCreateAsync(subject, data, metadata, cancellationToken).ConfigureAwait(false);
        return result.Value ?? throw new SessionLimitExceededException();
    }

    /// <summary>
    /// Creates a session for a token client and returns its first token pair, or
    /// <see cref="TokenFailure.SessionLimitReached"/> when <see cref="TesseraOptions.MaxSessionsPerSubject"/> refused the
    /// sign-in (policy <see cref="SessionLimitPolicy.RefuseNewSignIn"/>): the session was then created and revoked at once.
    /// </summary>
    /// <param name="subject">The signed-in subject, or <see langword="null"/> for an anonymous token session.</param>
    /// <param name="data">Initial data (keys to JSON texts), or <see langword="null"/>.</param>
    /// <param name="metadata">Metadata to record, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the store writes.</param>
    /// <returns>The pair, or why not.</returns>
    /// <exception cref="ArgumentException">A data key is reserved or a value is not JSON, or a value holds a NUL character.</exception>
    /// <exception cref="SessionDataTooLargeException">The data is larger than <see cref="TesseraOptions.MaxDataBytes"/> (and, for an update, larger than what is stored).</exception>
    /// <exception cref="SessionStoreUnavailableException">The store failed or did not answer within <see cref="TesseraOptions.StoreTimeout"/>.</exception>
    public ValueTask<TokenResult<TokenPair>> TryCreateAsync(string? subject, IReadOnlyDictionary<string, string>? data = null, SessionMetadata? metadata = null, CancellationToken cancellationToken = default) =>
        TryCreateWithPrincipalAsync(subject, data, principalJson: null, metadata, cancellationToken);

    /// <summary>
    /// <see cref="TryCreateAsync(string?, IReadOnlyDictionary{string, string}?, SessionMetadata?, CancellationToken)"/>
    /// with a signed-in principal kept under its reserved key, as the ASP.NET Core package's sign-in keeps it.
    /// </summary>
    internal async ValueTask<TokenResult<TokenPair>> TryCreateWithPrincipalAsync(string? subject, IReadOnlyDictionary<string, string>? data, string? principalJson, SessionMetadata? metadata, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, json) in data ?? SessionRecord.EmptyData)
        {
            SessionKeys.Validate(key, nameof(data));
            values[key] = TokenSessionData.ValidJson(json, nameof(data));
        }
        if (principalJson is not null)
        {
            SessionKeys.ValidateValue(principalJson, nameof(principalJson));
            values[SessionKeys.PrincipalKey] = principalJson;
        }
        TokenSessionData.CheckSize(values, grownFrom: 0, _sessionOptions.MaxDataBytes);
        var now = Now();
        var absolute = now + _options.SessionLifetime;
        var store = Store;
        // Under a session limit the session is stored anonymous and given its subject only once its tokens are stored:
        // a racing sign-in's trim can then never revoke it in between, which would leave it unable to take its tokens.
        var limited = subject is not null && _sessionOptions.MaxSessionsPerSubject is not null;
        for (var attempt = 0; ; attempt++)
        {
            var (access, refresh) = NewPair(SessionIds.NewId(), now, absolute);
            var record = new SessionRecord
            {
                Id = access.SessionId,
                // A token session has no cookie: its credential hash is random and never handed out.
                CredentialHash = _credentials.Issue(SessionRoute.Of(access.SessionId)).Hash,
                Subject = limited ? null : subject,
                Data = values,
                CreatedAt = now,
                LastSeenAt = now,
                IdleExpiresAt = refresh.ExpiresAt,
                AbsoluteExpiresAt = absolute,
                Metadata = _sessionOptions.Metadata.Apply(metadata),
            };
            if (await _store.CreateAsync(record, cancellationToken).ConfigureAwait(false))
            {
                bool created;
                try
                {
                    created = await _store.CreateTokensAsync(store, access, refresh, cancellationToken).ConfigureAwait(false);
                }
                catch (SessionStoreUnavailableException)
                {
                    // The session exists without tokens, so no client can reach it: remove it if the store allows.
                    await TryDeleteAsync(record.Id).ConfigureAwait(false);
                    throw;
                }
                if (!created)
                {
                    await _store.DeleteAsync(record.Id, cancellationToken).ConfigureAwait(false);
                    throw new InvalidOperationException("The store refused the tokens of a session it had just created.");
                }
                if (limited)
                {
                    if (!await _store.ApplyAsync(record.Id, new SessionPatch { SubjectChanged = true, Subject = subject }, cancellationToken).ConfigureAwait(false))
                    {
                        throw new InvalidOperationException("The store lost a token session it had just created.");
                    }
                    record = record with { Subject = subject };
                }
                Log.TokenSessionCreated(_logger, Log.Ref(record.Id));
                if (!await RaiseCreatedAsync(record, cancellationToken).ConfigureAwait(false))
                {
                    return TokenResult<TokenPair>.Fail(TokenFailure.SessionLimitReached);
                }
                return TokenResult<TokenPair>.Ok(Pair(access, refresh));
            }
            if (attempt >= 2)
            {
                throw new InvalidOperationException("Could not create a token session: three random ids collided.");
            }
        }
    }

    /// <summary>Finds the live session an access token belongs to.</summary>
    /// <param name="accessToken">The access token.</param>
    /// <param name="cancellationToken">Cancels the store read.</param>
    /// <returns>The session, or why not.</returns>
    public async ValueTask<TokenResult<SessionRecord>> GetAsync(string? accessToken, CancellationToken cancellationToken = default) =>
        (await GetWithExpiryAsync(accessToken, cancellationToken).ConfigureAwait(false)).Result;

    /// <summary>As <see cref="GetAsync"/>, with the access token's own expiry when it is valid (what a long-lived connection may outlive).</summary>
    internal ValueTask<(TokenResult<SessionRecord> Result, DateTimeOffset? ExpiresAt)> GetWithExpiryAsync(string? accessToken, CancellationToken cancellationToken)
    {
        var now = _clock.Now();
        var validation = Codec.Validate(accessToken, TokenKind.Access, now);
        if (validation.Failure != TokenFailure.None)
        {
            return ValueTask.FromResult<(TokenResult<SessionRecord>, DateTimeOffset?)>((TokenResult<SessionRecord>.Fail(validation.Failure), null));
        }
        // The memory store (and a near-cache hit) answers at once: no state machine for the request's authentication.
        var pending = _store.LoadTokenAsync(Store, validation.TokenId!, cancellationToken);
        return pending.IsCompletedSuccessfully
            ? ValueTask.FromResult(Found(pending.Result, validation, now))
            : AwaitFoundAsync(pending, validation, now);
    }

    private async ValueTask<(TokenResult<SessionRecord> Result, DateTimeOffset? ExpiresAt)> AwaitFoundAsync(ValueTask<TokenLookup?> pending, TokenValidation validation, DateTimeOffset now) =>
        Found(await pending.ConfigureAwait(false), validation, now);

    private (TokenResult<SessionRecord> Result, DateTimeOffset? ExpiresAt) Found(TokenLookup? lookup, TokenValidation validation, DateTimeOffset now)
    {
        var failure = Check(lookup, validation, TokenKind.Access, now);
        return failure == TokenFailure.None
            ? (TokenResult<SessionRecord>.Ok(lookup!.Session!), lookup.Token.ExpiresAt)
            : (TokenResult<SessionRecord>.Fail(failure), null);
    }

    /// <summary>
    /// Replaces the data of an access token's session, writing only the keys whose JSON value changed (compared as JSON,
    /// so member order and formatting are not changes). Nothing is written when nothing changed.
    /// </summary>
    /// <param name="accessToken">The access token.</param>
    /// <param name="data">
    /// The complete new data: keys to JSON texts. Keys missing from it are removed, except the principal a sign-in with
    /// claims keeps (which no caller can pass).
    /// </param>
    /// <param name="cancellationToken">Cancels the store calls.</param>
    /// <returns><see langword="true"/> when something was written, <see langword="false"/> when nothing changed; or why not.</returns>
    /// <exception cref="ArgumentException">A key is reserved or a value is not JSON, or a value holds a NUL character.</exception>
    /// <exception cref="SessionDataTooLargeException">The data is larger than <see cref="TesseraOptions.MaxDataBytes"/> (and, for an update, larger than what is stored).</exception>
    /// <exception cref="SessionStoreUnavailableException">The store failed or did not answer within <see cref="TesseraOptions.StoreTimeout"/>.</exception>
    public async ValueTask<TokenResult<bool>> UpdateAsync(string? accessToken, IReadOnlyDictionary<string, string> data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        foreach (var (key, json) in data)
        {
            SessionKeys.Validate(key, nameof(data));
            TokenSessionData.ValidJson(json, nameof(data));
        }
        var found = await GetAsync(accessToken, cancellationToken).ConfigureAwait(false);
        if (!found.Succeeded)
        {
            return TokenResult<bool>.Fail(found.Failure);
        }
        var session = found.Value!;
        TokenSessionData.CheckSize(data, grownFrom: session.Data.Sum(e => SessionKeys.EntryBytes(e.Key, e.Value)), _sessionOptions.MaxDataBytes);
        var set = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, json) in data)
        {
            if (!session.Data.TryGetValue(key, out var stored) || !TokenSessionData.SameJson(stored, json))
            {
                set[key] = json;
            }
        }
        // The signed-in principal is the sign-in's, not the data's: a caller cannot pass it, so it must not remove it.
        var removed = session.Data.Keys.Where(k => !data.ContainsKey(k) && k is not (SessionKeys.PrincipalKey or SessionKeys.SignInEndsKey)).ToList();
        if (set.Count == 0 && removed.Count == 0)
        {
            return TokenResult<bool>.Ok(false);
        }
        var applied = await _store.ApplyAsync(session.Id, new SessionPatch { Set = set, Removed = removed }, cancellationToken).ConfigureAwait(false);
        return applied ? TokenResult<bool>.Ok(true) : TokenResult<bool>.Fail(TokenFailure.InvalidSession);
    }

    /// <summary>Revokes an access token's session and with it every token of it (Compas's invalidate).</summary>
    /// <param name="accessToken">The access token.</param>
    /// <param name="cancellationToken">Cancels the store calls.</param>
    /// <returns><see langword="true"/>, or why not.</returns>
    public async ValueTask<TokenResult<bool>> InvalidateAsync(string? accessToken, CancellationToken cancellationToken = default)
    {
        var found = await GetAsync(accessToken, cancellationToken).ConfigureAwait(false);
        if (!found.Succeeded)
        {
            return TokenResult<bool>.Fail(found.Failure);
        }
        await _revoker.RevokeAsync(found.Value!.Id, found.Value, SessionRevocationReason.SignOut, cancellationToken).ConfigureAwait(false);
        return TokenResult<bool>.Ok(true);
    }

    /// <summary>
    /// Rotates a refresh token: the old pair is revoked and a new pair returned, atomically, so of two concurrent uses
    /// only one rotates. A retry within <see cref="TesseraTokenOptions.ReuseGraceWindow"/> of the rotation receives the
    /// same successor pair (counted, and raising <see cref="TesseraTokenEvents.OnRefreshGraceAnswered"/>) while that pair
    /// is still the session's current one; a use after the window, or after the successor was itself rotated, is a
    /// leak: the whole session is revoked and <see cref="TesseraTokenEvents.OnRefreshTokenReused"/> is raised. A token
    /// whose stored record is not a refresh token, or has expired, is refused as such whatever its JWT claims say.
    /// </summary>
    /// <param name="refreshToken">The refresh token.</param>
    /// <param name="cancellationToken">Cancels the store calls.</param>
    /// <returns>The new pair, or why not.</returns>
    public async ValueTask<TokenResult<TokenPair>> RefreshAsync(string? refreshToken, CancellationToken cancellationToken = default)
    {
        var result = await RefreshCoreAsync(refreshToken, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            _metrics.Rejected("token", result.Reason);
        }
        return result;
    }

    private async ValueTask<TokenResult<TokenPair>> RefreshCoreAsync(string? refreshToken, CancellationToken cancellationToken)
    {
        // Token claims are whole seconds; revocation times and the grace window are measured to the millisecond, so
        // the window is never up to a second longer than configured.
        var now = _clock.Now();
        var issuedAt = Seconds(now);
        var validation = Codec.Validate(refreshToken, TokenKind.Refresh, now);
        if (validation.Failure != TokenFailure.None)
        {
            return TokenResult<TokenPair>.Fail(validation.Failure);
        }
        var store = Store;
        if (store.CanTryRotate && validation.SessionId is { } sessionId)
        {
            // The common case in one store call where the store can check the record itself: a valid, unrotated refresh
            // token of a live session. Anything else wrote nothing and is decided below, from the records.
            var (access, refresh) = NewPair(sessionId, issuedAt, DateTimeOffset.MaxValue);
            if (await _store.TryRotateAsync(store, validation.TokenId!, access, refresh, now, _options.ClockSkew, cancellationToken).ConfigureAwait(false) is { } stored)
            {
                return TokenResult<TokenPair>.Ok(Pair(access with { ExpiresAt = stored.AccessExpiresAt }, refresh with { ExpiresAt = stored.RefreshExpiresAt }));
            }
        }
        for (var attempt = 0; attempt < 2; attempt++)
        {
            // One atomic read of the token, its session and (once it was rotated) its successor pair: a grace answer is
            // decided on records from one moment.
            var lookup = await _store.LoadRefreshTokenAsync(store, validation.TokenId!, cancellationToken).ConfigureAwait(false);
            // The record decides before anything else: what it says about kind and expiry stands whatever a key signed,
            // so an expired or converted token is refused as such and never taken for a reuse.
            var failure = CheckRecord(lookup, validation, TokenKind.Refresh, now);
            if (failure != TokenFailure.None)
            {
                return TokenResult<TokenPair>.Fail(failure);
            }
            if (lookup!.Token.RevokedAt is not null)
            {
                return await GraceOrReuseAsync(lookup, refreshToken!, now, cancellationToken).ConfigureAwait(false);
            }
            failure = CheckSession(lookup, now);
            if (failure != TokenFailure.None)
            {
                return TokenResult<TokenPair>.Fail(failure);
            }
            var session = lookup.Session!;
            var (access, refresh) = NewPair(session.Id, issuedAt, session.AbsoluteExpiresAt);
            var outcome = await _store.RotateAsync(store, lookup.Token.Id, access, refresh, now, cancellationToken).ConfigureAwait(false);
            switch (outcome)
            {
                case TokenRotationOutcome.Rotated:
                    return TokenResult<TokenPair>.Ok(Pair(access, refresh));
                case TokenRotationOutcome.AlreadyRevoked:
                    // Lost a race with a concurrent refresh of the same token: read what it did and answer as a retry.
                    continue;
                default:
                    return TokenResult<TokenPair>.Fail(TokenFailure.InvalidSession);
            }
        }
        return TokenResult<TokenPair>.Fail(TokenFailure.RevokedToken);
    }

    /// <summary>
    /// Deletes expired sessions and sessions revoked at least <paramref name="revokedAge"/> ago, with their data and
    /// tokens, in batches. Rotated tokens of a live session are kept until a minute after their own expiry (they are what
    /// makes reuse detectable); rotations, not cleanup, delete them then.
    /// </summary>
    /// <param name="revokedAge">How long revoked sessions are kept; <see cref="TimeSpan.Zero"/> deletes them all.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <returns>How many sessions were deleted.</returns>
    /// <exception cref="InvalidOperationException">The store cannot clean up (no <see cref="ISessionStoreCleanup"/>).</exception>
    public async ValueTask<int> CleanupAsync(TimeSpan revokedAge, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(revokedAge, TimeSpan.Zero);
        if (_store.Store is not ISessionStoreCleanup cleanup)
        {
            throw new InvalidOperationException($"The session store {_store.Store.GetType().Name} cannot delete expired sessions.");
        }
        return await SessionCleanupService.DeleteInBatchesAsync(_store, cleanup, _clock.Now() - revokedAge, _sessionOptions.CleanupBatchSize, TimeSpan.Zero, _clock.Time, _sessionOptions.Events, _logger, cancellationToken).ConfigureAwait(false);
    }

    // A rotated refresh token presented again. It is answered with its successor pair only while that pair is still the
    // session's current one, as the one read that found the token shows it: the successor neither rotated nor revoked,
    // the rotation at most ReuseGraceWindow ago, the session live. That read is the moment the answer is given, so a
    // rotation of the successor that lands after it is later than the answer; one that landed before it makes the
    // presenter hold a token two steps behind the chain, which no lost response or race explains: a reuse. Without that
    // rule, every token of a chain would walk up to the live pair one grace answer at a time.
    private async ValueTask<TokenResult<TokenPair>> GraceOrReuseAsync(TokenLookup lookup, string presented, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var token = lookup.Token;
        var session = lookup.Session;
        if (session is null)
        {
            return TokenResult<TokenPair>.Fail(TokenFailure.InvalidSession);
        }
        if (session.RevokedAt is not null)
        {
            return TokenResult<TokenPair>.Fail(TokenFailure.RevokedToken);
        }
        if (!session.IsActiveAt(now))
        {
            return TokenResult<TokenPair>.Fail(TokenFailure.InvalidSession);
        }
        var rotatedAt = token.RevokedAt!.Value;
        if (now - rotatedAt <= _options.ReuseGraceWindow && CurrentSuccessor(lookup) is var (access, refresh))
        {
            _metrics.GraceAnswered();
            var tokenRef = Log.Ref(presented);
            Log.RefreshGraceAnswered(_logger, tokenRef, Log.Ref(session.Id));
            await SessionEventDispatch.RaiseAsync(
                _sessionOptions.TokenEvents.OnRefreshGraceAnswered,
                new RefreshGraceContext(session.Id, session.Subject, tokenRef, rotatedAt, now, session.Metadata),
                _logger).ConfigureAwait(false);
            return TokenResult<TokenPair>.Ok(Pair(access, refresh));
        }
        // Outside the grace window, or behind a successor that moved on: whoever holds it is not the legitimate client's
        // latest state. Of racing presenters only the one whose revocation ended the session reports it, so one theft
        // raises one alarm; every one of them is refused as a reuse.
        if (await _revoker.RevokeAsync(session.Id, session, SessionRevocationReason.Leak, cancellationToken).ConfigureAwait(false))
        {
            Log.RefreshTokenReused(_logger, Log.Ref(session.Id));
            await SessionEventDispatch.RaiseAsync(
                _sessionOptions.TokenEvents.OnRefreshTokenReused,
                new RefreshTokenReuseContext(session.Id, session.Subject, token.Id, rotatedAt, now, session.Metadata),
                _logger).ConfigureAwait(false);
        }
        return TokenResult<TokenPair>.Fail(TokenFailure.RefreshTokenReused);
    }

    // The successor pair a rotated token's lookup carries, when it is the pair that replaced that token and neither of
    // its tokens has been revoked (rotated, or revoked with the session) since.
    private static (TokenRecord Access, TokenRecord Refresh)? CurrentSuccessor(TokenLookup lookup) =>
        lookup is { Successor: { Kind: TokenKind.Refresh, RevokedAt: null } refresh, SuccessorAccess: { Kind: TokenKind.Access, RevokedAt: null } access }
        && string.Equals(refresh.Id, lookup.Token.SuccessorId, StringComparison.Ordinal)
        && string.Equals(access.Id, refresh.PairedTokenId, StringComparison.Ordinal)
            ? (access, refresh)
            : null;

    // Raises created, applies the session limit, then raises signed-in unless the limit refused the session.
    private async ValueTask<bool> RaiseCreatedAsync(SessionRecord record, CancellationToken cancellationToken)
    {
        await _reporter.CreatedAsync(new SessionCreatedEvent(record.Id, record.Subject, SessionCredentialKind.AccessToken, record.CreatedAt, record.Metadata)).ConfigureAwait(false);
        if (record.Subject is { } subject)
        {
            if (!await _limit.EnforceAsync(subject, record.Id, record.Metadata, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }
            await _reporter.SignedInAsync(new SessionSignedInEvent(record.Id, subject, null, SessionCredentialKind.AccessToken, record.CreatedAt, record.Metadata)).ConfigureAwait(false);
        }
        return true;
    }

    private TokenFailure Check(TokenLookup? lookup, TokenValidation validation, TokenKind kind, DateTimeOffset now)
    {
        var failure = CheckRecord(lookup, validation, kind, now);
        return failure != TokenFailure.None ? failure : CheckSession(lookup!, now);
    }

    // What the token's own record says, before its session is looked at. The JWT's claims are only as good as the key
    // that signed them; the record is what this service issued. So its kind and its expiry are checked here too: a copy
    // re-signed with a later exp, or with token_use (or the Compas claim) switched, is refused by the record even when
    // the signature is ours.
    private TokenFailure CheckRecord(TokenLookup? lookup, TokenValidation validation, TokenKind kind, DateTimeOffset now)
    {
        if (lookup is null)
        {
            // The signature is ours, so the token was minted here; its record goes only with its session (Compas: a
            // deleted session is invalid_session, not invalid_token).
            return TokenFailure.InvalidSession;
        }
        var token = lookup.Token;
        if (token.Kind != kind)
        {
            return TokenFailure.WrongTokenType;
        }
        if (validation.SessionId is not null && !string.Equals(validation.SessionId, token.SessionId, StringComparison.Ordinal))
        {
            return TokenFailure.InvalidToken;
        }
        // The same rule as the codec's exp check (accepted until expiry plus ClockSkew), applied to the stored expiry.
        return now >= token.ExpiresAt + _options.ClockSkew ? TokenFailure.ExpiredToken : TokenFailure.None;
    }

    private static TokenFailure CheckSession(TokenLookup lookup, DateTimeOffset now)
    {
        if (lookup.Session is null)
        {
            return TokenFailure.InvalidSession;
        }
        if (lookup.Token.RevokedAt is not null || lookup.Session.RevokedAt is not null)
        {
            return TokenFailure.RevokedToken;
        }
        return lookup.Session.IsActiveAt(now) ? TokenFailure.None : TokenFailure.InvalidSession;
    }

    private (TokenRecord Access, TokenRecord Refresh) NewPair(string sessionId, DateTimeOffset now, DateTimeOffset absolute)
    {
        // Both ids carry the session's route, so a store sharded by session finds a token on its session's shard.
        var accessId = SessionRoute.NewTokenId(sessionId);
        var refreshId = SessionRoute.NewTokenId(sessionId);
        var access = new TokenRecord
        {
            Id = accessId,
            SessionId = sessionId,
            Kind = TokenKind.Access,
            PairedTokenId = refreshId,
            CreatedAt = now,
            ExpiresAt = Min(now + _options.AccessTokenLifetime, absolute),
        };
        var refresh = access with
        {
            Id = refreshId,
            Kind = TokenKind.Refresh,
            PairedTokenId = accessId,
            ExpiresAt = Min(now + _options.RefreshTokenLifetime, absolute),
        };
        return (access, refresh);
    }

    private TokenPair Pair(TokenRecord access, TokenRecord refresh) =>
        new(Codec.Mint(access), Codec.Mint(refresh), access.ExpiresAt, refresh.ExpiresAt, access.SessionId);

    // Token times are whole seconds, like the JWT claims minted from them.
    private DateTimeOffset Now() => Seconds(_clock.Time.GetUtcNow());

    private static DateTimeOffset Seconds(DateTimeOffset time) => DateTimeOffset.FromUnixTimeSeconds(time.ToUnixTimeSeconds());

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private async ValueTask TryDeleteAsync(string sessionId)
    {
        try
        {
            await _store.DeleteAsync(sessionId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (SessionStoreUnavailableException)
        {
            // Still down: the orphan has no credential and ends at its idle deadline.
        }
    }
}
