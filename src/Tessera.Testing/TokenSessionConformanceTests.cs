using Microsoft.Extensions.Logging.Testing;
using System.Buffers.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.Tokens;
using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The token-session conformance suite: inherit it in a test class with the <see cref="StoreKit"/> of a store
/// that also implements <see cref="ISessionTokenStore"/>, and every token behaviour Tessera relies on (Compas's
/// create / get / update / invalidate / refresh / cleanup, and rotation with reuse detection, grace-window retries,
/// tombstones and lifetimes) is tested against your store through <see cref="SessionManager.Tokens"/>.
/// </summary>
/// <remarks>
/// A store that does not implement <see cref="ISessionTokenStore"/> fails every test with a message saying so. The
/// cleanup tests need <see cref="ISessionStoreCleanup"/>; a store that expires records by itself declares the gap by
/// overriding <see cref="SupportsCleanup"/> to <see langword="false"/>.
/// </remarks>
public abstract class TokenSessionConformanceTests<TKit> : StoreKitTests<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>Everything the managers of this test class logged, for "no token reached a log line" checks.</summary>
    protected FakeLogCollector Logs { get; } = new();

    /// <summary>
    /// Whether the store implements <see cref="ISessionStoreCleanup"/>. Default <see langword="true"/>; override with
    /// <see langword="false"/> only for a store that expires records by itself (the cleanup tests then do not run).
    /// </summary>
    protected bool SupportsCleanup => Kit.SupportsCleanup;

    /// <summary>
    /// Adjusts the options of every manager the suite builds, after the suite's defaults (one fresh signing key) and
    /// before a test's own settings. Does nothing by default.
    /// </summary>
    /// <param name="options">The options to adjust.</param>
    protected virtual void ConfigureOptions(TesseraOptions options)
    {
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Compas: create and get
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Creating gives a pair whose access token decodes (jti, sid, token_use, iat, exp) and stores exactly two token
    /// records, paired with each other, with the session's data.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task CreatingGivesAPairWhoseAccessTokenDecodesAndStoresExactlyTwoTokenRecords()
    {
        var h = NewHarness();
        var now = Clock.GetUtcNow().ToUnixTimeSeconds();

        var pair = await h.Service.CreateAsync("alice", Data(("foo", "\"bar\"")));

        Assert.Equal(1, h.Counting.Count("CreateTokens")); // one call, which takes exactly an access and a refresh record
        var access = Payload(pair.AccessToken);
        var refresh = Payload(pair.RefreshToken);
        Assert.Equal("access", access.GetProperty("token_use").GetString());
        Assert.Equal("refresh", refresh.GetProperty("token_use").GetString());
        Assert.Equal(pair.SessionId, access.GetProperty("sid").GetString());
        Assert.Equal(pair.SessionId, refresh.GetProperty("sid").GetString());
        Assert.Equal(now, access.GetProperty("iat").GetInt64());
        Assert.Equal(now + (long)h.Options.Tokens.AccessTokenLifetime.TotalSeconds, access.GetProperty("exp").GetInt64());
        Assert.Equal(now + (long)h.Options.Tokens.RefreshTokenLifetime.TotalSeconds, refresh.GetProperty("exp").GetInt64());
        Assert.Equal(pair.AccessTokenExpiresAt.ToUnixTimeSeconds(), access.GetProperty("exp").GetInt64());
        Assert.Equal(pair.RefreshTokenExpiresAt.ToUnixTimeSeconds(), refresh.GetProperty("exp").GetInt64());

        var accessId = access.GetProperty("jti").GetString()!;
        var refreshId = refresh.GetProperty("jti").GetString()!;
        Assert.NotEqual(accessId, refreshId);
        var accessRecord = await h.Tokens.LoadTokenAsync(accessId);
        var refreshRecord = await h.Tokens.LoadTokenAsync(refreshId);
        Assert.NotNull(accessRecord);
        Assert.NotNull(refreshRecord);
        AssertToken(accessRecord.Token, accessId, pair.SessionId, TokenKind.Access, refreshId, pair.AccessTokenExpiresAt);
        AssertToken(refreshRecord.Token, refreshId, pair.SessionId, TokenKind.Refresh, accessId, pair.RefreshTokenExpiresAt);
        Assert.Null(accessRecord.Token.RevokedAt);
        Assert.Null(refreshRecord.Token.RevokedAt);
        Assert.Equal("alice", accessRecord.Session!.Subject);
        AssertSameJson("\"bar\"", accessRecord.Session.Data["foo"]);

        var got = await h.Service.GetAsync(pair.AccessToken);
        Assert.True(got.Succeeded, got.Reason);
        Assert.Equal(pair.SessionId, got.Value!.Id);
        AssertSameJson("\"bar\"", got.Value.Data["foo"]);
    }

    /// <summary>A truncated access token is invalid_token for get, and a truncated refresh token for refresh.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ATruncatedTokenIsAnInvalidToken()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");

        Assert.Equal(TokenFailure.InvalidToken, (await h.Service.GetAsync(pair.AccessToken[..^2])).Failure);
        Assert.Equal(TokenFailure.InvalidToken, (await h.Service.RefreshAsync(pair.RefreshToken[..^2])).Failure);
        Assert.Equal("invalid_token", (await h.Service.GetAsync(pair.AccessToken[..^2])).Reason);
        Assert.True((await h.Service.GetAsync(pair.AccessToken)).Succeeded, "a rejected copy must not harm the real token");
    }

    /// <summary>An access token past its exp (and the clock skew) is expired_token.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AnExpiredAccessTokenIsAnExpiredToken()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");

        Clock.Advance(h.Options.Tokens.AccessTokenLifetime + h.Options.Tokens.ClockSkew);

        var got = await h.Service.GetAsync(pair.AccessToken);
        Assert.Equal(TokenFailure.ExpiredToken, got.Failure);
        Assert.Equal("expired_token", got.Reason);
    }

    /// <summary>A refresh token past its exp (and the clock skew) is expired_token.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AnExpiredRefreshTokenIsAnExpiredToken()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");

        Clock.Advance(h.Options.Tokens.RefreshTokenLifetime + h.Options.Tokens.ClockSkew);

        Assert.Equal(TokenFailure.ExpiredToken, (await h.Service.RefreshAsync(pair.RefreshToken)).Failure);
    }

    /// <summary>A refresh token passed to get is wrong_token_type.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ARefreshTokenPassedToGetIsTheWrongTokenType()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");

        var got = await h.Service.GetAsync(pair.RefreshToken);

        Assert.Equal(TokenFailure.WrongTokenType, got.Failure);
        Assert.Equal("wrong_token_type", got.Reason);
    }

    /// <summary>An access token passed to refresh is wrong_token_type, and nothing is rotated.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AnAccessTokenPassedToRefreshIsTheWrongTokenTypeAndRotatesNothing()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");

        Assert.Equal(TokenFailure.WrongTokenType, (await h.Service.RefreshAsync(pair.AccessToken)).Failure);

        Assert.Equal(0, h.Counting.Count("Rotate"));
        Assert.True((await h.Service.GetAsync(pair.AccessToken)).Succeeded);
        Assert.True((await h.Service.RefreshAsync(pair.RefreshToken)).Succeeded);
    }

    /// <summary>The tokens of a deleted session are invalid_session, for get and for refresh.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TheTokensOfADeletedSessionAreAnInvalidSession()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");

        Assert.True(await h.Inner.DeleteAsync(pair.SessionId));

        var got = await h.Service.GetAsync(pair.AccessToken);
        Assert.Equal(TokenFailure.InvalidSession, got.Failure);
        Assert.Equal("invalid_session", got.Reason);
        Assert.Equal(TokenFailure.InvalidSession, (await h.Service.RefreshAsync(pair.RefreshToken)).Failure);
    }

    /// <summary>The tokens of a revoked session are revoked_token, for get and for refresh, and that is no leak.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TheTokensOfARevokedSessionAreARevokedToken()
    {
        var reported = 0;
        var h = NewHarness(o => o.TokenEvents.OnRefreshTokenReused = _ =>
        {
            Interlocked.Increment(ref reported);
            return ValueTask.CompletedTask;
        });
        var pair = await h.Service.CreateAsync("alice");

        Assert.True(await h.Manager.RevokeAsync(pair.SessionId));

        var got = await h.Service.GetAsync(pair.AccessToken);
        Assert.Equal(TokenFailure.RevokedToken, got.Failure);
        Assert.Equal("revoked_token", got.Reason);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.RefreshAsync(pair.RefreshToken)).Failure);
        Assert.Equal(0, reported);
    }

    /// <summary>An access token whose pair was rotated away is revoked_token.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AnAccessTokenRotatedAwayIsARevokedToken()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");
        Assert.True((await h.Service.RefreshAsync(pair.RefreshToken)).Succeeded);

        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.GetAsync(pair.AccessToken)).Failure);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Compas: refresh and cleanup
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Refreshing gives a new pair, stores two more records and revokes the old pair: both old records carry the
    /// rotation time, and the old refresh token names the new one as its successor.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task RefreshingGivesANewPairStoresTwoMoreRecordsAndRevokesTheOldPair()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice", Data(("foo", "1")));
        Clock.Advance(TimeSpan.FromMinutes(1));
        var rotatedAt = DateTimeOffset.FromUnixTimeSeconds(Clock.GetUtcNow().ToUnixTimeSeconds());
        h.Counting.Reset();

        var refreshed = await h.Service.RefreshAsync(pair.RefreshToken);

        Assert.True(refreshed.Succeeded, refreshed.Reason);
        var next = refreshed.Value!;
        Assert.Equal(pair.SessionId, next.SessionId);
        Assert.NotEqual(pair.AccessToken, next.AccessToken);
        Assert.NotEqual(pair.RefreshToken, next.RefreshToken);
        Assert.Equal(1, h.Counting.Count("Rotate"));

        var newAccess = await h.Tokens.LoadTokenAsync(TokenId(next.AccessToken));
        var newRefresh = await h.Tokens.LoadTokenAsync(TokenId(next.RefreshToken));
        Assert.NotNull(newAccess);
        Assert.NotNull(newRefresh);
        AssertToken(newAccess.Token, TokenId(next.AccessToken), pair.SessionId, TokenKind.Access, TokenId(next.RefreshToken), next.AccessTokenExpiresAt);
        AssertToken(newRefresh.Token, TokenId(next.RefreshToken), pair.SessionId, TokenKind.Refresh, TokenId(next.AccessToken), next.RefreshTokenExpiresAt);
        Assert.Null(newAccess.Token.RevokedAt);
        Assert.Null(newRefresh.Token.RevokedAt);
        Assert.Equal(rotatedAt, newAccess.Token.CreatedAt);

        var oldAccess = (await h.Tokens.LoadTokenAsync(TokenId(pair.AccessToken)))!.Token;
        var oldRefresh = (await h.Tokens.LoadTokenAsync(TokenId(pair.RefreshToken)))!.Token;
        Assert.Equal(rotatedAt, oldAccess.RevokedAt);
        Assert.Equal(rotatedAt, oldRefresh.RevokedAt);
        Assert.Equal(TokenId(next.RefreshToken), oldRefresh.SuccessorId);
        Assert.Null(oldAccess.SuccessorId);

        var got = await h.Service.GetAsync(next.AccessToken);
        Assert.True(got.Succeeded, got.Reason);
        AssertSameJson("1", got.Value!.Data["foo"]);
        Assert.Equal(rotatedAt, got.Value.LastSeenAt);
    }

    /// <summary>
    /// Cleanup with a zero revoked-age removes a revoked session with all its tokens (and data), and keeps live
    /// sessions with all of theirs, rotated tombstones included.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task CleanupWithAZeroRevokedAgeRemovesARevokedSessionWithAllItsTokensAndKeepsLiveOnes()
    {
        var h = NewHarness();
        if (!Cleanup(h))
        {
            return;
        }
        var live = await h.Service.CreateAsync("alice", Data(("keep", "1")));
        var liveNext = (await h.Service.RefreshAsync(live.RefreshToken)).Value!;
        var revoked = await h.Service.CreateAsync("bob", Data(("drop", "1")));
        var revokedNext = (await h.Service.RefreshAsync(revoked.RefreshToken)).Value!;
        Assert.True((await h.Service.InvalidateAsync(revokedNext.AccessToken)).Value);

        Assert.Equal(1, await h.Service.CleanupAsync(TimeSpan.Zero));

        foreach (var token in new[] { revoked.AccessToken, revoked.RefreshToken, revokedNext.AccessToken, revokedNext.RefreshToken })
        {
            Assert.Null(await h.Tokens.LoadTokenAsync(TokenId(token)));
        }
        Assert.False(await h.Inner.DeleteAsync(revoked.SessionId), "the revoked session's record survived cleanup");
        foreach (var token in new[] { live.AccessToken, live.RefreshToken, liveNext.AccessToken, liveNext.RefreshToken })
        {
            Assert.NotNull(await h.Tokens.LoadTokenAsync(TokenId(token)));
        }
        var got = await h.Service.GetAsync(liveNext.AccessToken);
        Assert.True(got.Succeeded, got.Reason);
        AssertSameJson("1", got.Value!.Data["keep"]);
    }

    /// <summary>Cleanup keeps a revoked session younger than the revoked-age, and removes it once it is old enough.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task CleanupKeepsARevokedSessionUntilItIsOlderThanTheRevokedAge()
    {
        var h = NewHarness();
        if (!Cleanup(h))
        {
            return;
        }
        var pair = await h.Service.CreateAsync("alice");
        Assert.True((await h.Service.InvalidateAsync(pair.AccessToken)).Value);

        Clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(0, await h.Service.CleanupAsync(TimeSpan.FromHours(1)));
        Assert.NotNull(await h.Tokens.LoadTokenAsync(TokenId(pair.RefreshToken)));

        Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await h.Service.CleanupAsync(TimeSpan.FromHours(1)));
        Assert.Null(await h.Tokens.LoadTokenAsync(TokenId(pair.RefreshToken)));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Update and invalidate
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Update writes only when the data changed: the same data, or the same JSON with its object members in another
    /// order or other whitespace, writes nothing and keeps the stored text; a real change writes once.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task UpdateWritesOnlyWhenTheDataChangedAndAKeyOrderChangeIsNoChange()
    {
        var h = NewHarness();
        const string Profile = "{\"name\":\"Zoë\",\"roles\":[\"a\",\"b\"],\"address\":{\"city\":\"Gent\",\"zip\":\"9000\"}}";
        var pair = await h.Service.CreateAsync("alice", Data(("profile", Profile), ("count", "1")));
        h.Counting.Reset();

        var same = await h.Service.UpdateAsync(pair.AccessToken, Data(("profile", Profile), ("count", "1")));
        Assert.True(same.Succeeded, same.Reason);
        Assert.False(same.Value);

        const string Reordered = "{ \"address\": { \"zip\": \"9000\", \"city\": \"Gent\" }, \"roles\": [\"a\", \"b\"], \"name\": \"Zoë\" }";
        var reordered = await h.Service.UpdateAsync(pair.AccessToken, Data(("count", "1"), ("profile", Reordered)));
        Assert.True(reordered.Succeeded, reordered.Reason);
        Assert.False(reordered.Value, "a key-order change in a JSON object is not a change");
        Assert.Equal(0, h.Counting.Writes);
        AssertSameJson(Profile, (await h.Service.GetAsync(pair.AccessToken)).Value!.Data["profile"]);

        const string ArrayReordered = "{\"name\":\"Zoë\",\"roles\":[\"b\",\"a\"],\"address\":{\"city\":\"Gent\",\"zip\":\"9000\"}}";
        var changed = await h.Service.UpdateAsync(pair.AccessToken, Data(("profile", ArrayReordered), ("count", "1")));
        Assert.True(changed.Succeeded, changed.Reason);
        Assert.True(changed.Value, "an array's order is part of its value");
        Assert.Equal(1, h.Counting.Writes);
        Assert.Equal(1, h.Counting.Count("Apply"));

        var removed = await h.Service.UpdateAsync(pair.AccessToken, Data(("profile", ArrayReordered)));
        Assert.True(removed.Value);
        Assert.Equal(2, h.Counting.Writes);
        var data = (await h.Service.GetAsync(pair.AccessToken)).Value!.Data;
        AssertSameJson(ArrayReordered, data["profile"]);
        Assert.False(data.ContainsKey("count"));
    }

    /// <summary>Update with a rejected token writes nothing and says why.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task UpdateWithARejectedTokenWritesNothing()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");
        h.Counting.Reset();

        Assert.Equal(TokenFailure.WrongTokenType, (await h.Service.UpdateAsync(pair.RefreshToken, Data(("x", "1")))).Failure);
        Assert.Equal(TokenFailure.InvalidToken, (await h.Service.UpdateAsync(pair.AccessToken[..^2], Data(("x", "1")))).Failure);

        Assert.Equal(0, h.Counting.Writes);
    }

    /// <summary>
    /// Invalidate revokes the session and every token of it: the access and refresh tokens both fail afterwards with
    /// revoked_token, older rotated tokens too, and no leak is reported.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task InvalidateRevokesTheSessionAndEveryTokenOfIt()
    {
        var reported = 0;
        var h = NewHarness(o => o.TokenEvents.OnRefreshTokenReused = _ =>
        {
            Interlocked.Increment(ref reported);
            return ValueTask.CompletedTask;
        });
        var first = await h.Service.CreateAsync("alice");
        var pair = (await h.Service.RefreshAsync(first.RefreshToken)).Value!;

        var invalidated = await h.Service.InvalidateAsync(pair.AccessToken);

        Assert.True(invalidated.Succeeded, invalidated.Reason);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.GetAsync(pair.AccessToken)).Failure);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.RefreshAsync(pair.RefreshToken)).Failure);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.GetAsync(first.AccessToken)).Failure);
        Assert.Null(await h.Inner.LoadAsync(pair.SessionId));
        Assert.NotNull((await h.Tokens.LoadTokenAsync(TokenId(pair.AccessToken)))!.Session!.RevokedAt);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.InvalidateAsync(pair.AccessToken)).Failure);
        Assert.Equal(0, reported);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Rotation: grace window, reuse detection, concurrency, tombstones
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// A retry of the same refresh token within the grace window gets the identical pair (the same strings), without a
    /// second rotation, and is not reported as a leak.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ARetryWithinTheGraceWindowGetsTheIdenticalPair()
    {
        var reported = 0;
        var h = NewHarness(o => o.TokenEvents.OnRefreshTokenReused = _ =>
        {
            Interlocked.Increment(ref reported);
            return ValueTask.CompletedTask;
        });
        var pair = await h.Service.CreateAsync("alice");
        var first = (await h.Service.RefreshAsync(pair.RefreshToken)).Value!;

        Clock.Advance(h.Options.Tokens.ReuseGraceWindow);
        var retry = await h.Service.RefreshAsync(pair.RefreshToken);

        Assert.True(retry.Succeeded, retry.Reason);
        Assert.Equal(first.AccessToken, retry.Value!.AccessToken);
        Assert.Equal(first.RefreshToken, retry.Value.RefreshToken);
        Assert.Equal(first, retry.Value);
        Assert.Equal(1, h.Counting.Count("Rotate"));
        Assert.Equal(0, reported);
        Assert.True((await h.Service.GetAsync(first.AccessToken)).Succeeded);
    }

    /// <summary>
    /// Reusing a rotated refresh token after the grace window is refresh_token_reused: the session is revoked (the
    /// newest access and refresh tokens then fail), and OnRefreshTokenReused is raised exactly once, with the session.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ReuseAfterTheGraceWindowRevokesTheSessionAndRaisesTheEventOnce()
    {
        var reports = new List<RefreshTokenReuseContext>();
        var h = NewHarness(o => o.TokenEvents.OnRefreshTokenReused = context =>
        {
            lock (reports)
            {
                reports.Add(context);
            }
            return ValueTask.CompletedTask;
        });
        var pair = await h.Service.CreateAsync("alice", metadata: new SessionMetadata("phone", "192.0.2.7", null));
        var rotatedAt = DateTimeOffset.FromUnixTimeSeconds(Clock.GetUtcNow().ToUnixTimeSeconds());
        var newest = (await h.Service.RefreshAsync(pair.RefreshToken)).Value!;

        Clock.Advance(h.Options.Tokens.ReuseGraceWindow + TimeSpan.FromSeconds(1));
        var reuse = await h.Service.RefreshAsync(pair.RefreshToken);

        Assert.Equal(TokenFailure.RefreshTokenReused, reuse.Failure);
        Assert.Equal("refresh_token_reused", reuse.Reason);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.GetAsync(newest.AccessToken)).Failure);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.RefreshAsync(newest.RefreshToken)).Failure);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.RefreshAsync(pair.RefreshToken)).Failure);
        Assert.Null(await h.Inner.LoadAsync(pair.SessionId));
        var report = Assert.Single(reports);
        Assert.Equal(pair.SessionId, report.SessionId);
        Assert.Equal("alice", report.Subject);
        Assert.Equal(TokenId(pair.RefreshToken), report.TokenId);
        Assert.Equal(rotatedAt, report.RotatedAt);
        Assert.Equal("phone", report.Metadata.UserAgent);
        foreach (var secret in new[] { pair.AccessToken, pair.RefreshToken, newest.AccessToken, newest.RefreshToken })
        {
            Assert.DoesNotContain(secret, Logs.AllText(), StringComparison.Ordinal);
        }
        Assert.DoesNotContain(pair.SessionId, Logs.AllText(), StringComparison.Ordinal);
    }

    /// <summary>An event handler that throws does not undo the revocation of a reused session.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AFailingReuseHandlerDoesNotUndoTheRevocation()
    {
        var h = NewHarness(o => o.TokenEvents.OnRefreshTokenReused = _ => throw new InvalidOperationException("alerting is down"));
        var pair = await h.Service.CreateAsync("alice");
        var newest = (await h.Service.RefreshAsync(pair.RefreshToken)).Value!;
        Clock.Advance(h.Options.Tokens.ReuseGraceWindow + TimeSpan.FromSeconds(1));

        Assert.Equal(TokenFailure.RefreshTokenReused, (await h.Service.RefreshAsync(pair.RefreshToken)).Failure);

        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.GetAsync(newest.AccessToken)).Failure);
    }

    /// <summary>
    /// Twenty concurrent refreshes with the same refresh token all succeed with one and the same pair, and the store
    /// holds exactly one successor.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TwentyConcurrentRefreshesOfOneTokenAllGetOneAndTheSamePair()
    {
        var reported = 0;
        var h = NewHarness(o => o.TokenEvents.OnRefreshTokenReused = _ =>
        {
            Interlocked.Increment(ref reported);
            return ValueTask.CompletedTask;
        });
        var pair = await h.Service.CreateAsync("alice");

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(async () => await h.Service.RefreshAsync(pair.RefreshToken))));

        Assert.All(results, r => Assert.True(r.Succeeded, r.Reason));
        var pairs = results.Select(r => r.Value!).Distinct().ToList();
        var winner = Assert.Single(pairs);
        Assert.Equal(0, reported);
        var old = (await h.Tokens.LoadTokenAsync(TokenId(pair.RefreshToken)))!.Token;
        Assert.Equal(TokenId(winner.RefreshToken), old.SuccessorId);
        Assert.True((await h.Service.GetAsync(winner.AccessToken)).Succeeded);
        Assert.True((await h.Service.RefreshAsync(winner.RefreshToken)).Succeeded, "the one successor must be a working refresh token");
    }

    /// <summary>
    /// Of many concurrent rotations of one refresh token at the store, exactly one returns Rotated and the rest
    /// AlreadyRevoked; only the winner's pair is stored.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task OfConcurrentRotationsOfOneTokenAtTheStoreExactlyOneWins()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");
        var oldId = TokenId(pair.RefreshToken);
        var now = Clock.GetUtcNow();
        var candidates = Enumerable.Range(0, 20).Select(_ => NewPair(pair.SessionId, now)).ToList();

        var outcomes = await Task.WhenAll(candidates.Select(c => Task.Run(async () => await h.Tokens.RotateAsync(oldId, c.Access, c.Refresh, now))));

        Assert.Equal(1, outcomes.Count(o => o == TokenRotationOutcome.Rotated));
        Assert.Equal(19, outcomes.Count(o => o == TokenRotationOutcome.AlreadyRevoked));
        var winner = candidates[Array.IndexOf(outcomes, TokenRotationOutcome.Rotated)];
        Assert.Equal(winner.Refresh.Id, (await h.Tokens.LoadTokenAsync(oldId))!.Token.SuccessorId);
        foreach (var candidate in candidates)
        {
            var won = candidate.Refresh.Id == winner.Refresh.Id;
            Assert.Equal(won, await h.Tokens.LoadTokenAsync(candidate.Refresh.Id) is not null);
            Assert.Equal(won, await h.Tokens.LoadTokenAsync(candidate.Access.Id) is not null);
        }
    }

    /// <summary>
    /// Tombstones: after several rotations and a cleanup run (expired and revoked sessions removed, this session still
    /// live), reusing the first refresh token is still detected as a leak. Compas loses this once its cleanup deletes
    /// old tokens.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ReuseOfTheFirstRefreshTokenIsDetectedEvenAfterRotationsAndCleanup()
    {
        var reported = 0;
        var h = NewHarness(o => o.TokenEvents.OnRefreshTokenReused = _ =>
        {
            Interlocked.Increment(ref reported);
            return ValueTask.CompletedTask;
        });
        if (!Cleanup(h))
        {
            return;
        }
        var first = await h.Service.CreateAsync("alice");
        var current = first;
        for (var i = 0; i < 4; i++)
        {
            Clock.Advance(TimeSpan.FromMinutes(10)); // every earlier access token has expired
            current = (await h.Service.RefreshAsync(current.RefreshToken)).Value!;
        }
        var now = Clock.GetUtcNow();
        var expiring = new SessionRecord
        {
            Id = Guid.NewGuid().ToString("D"),
            CredentialHash = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now + TimeSpan.FromMinutes(1),
            AbsoluteExpiresAt = now + TimeSpan.FromHours(8),
        };
        Assert.True(await h.Inner.CreateAsync(expiring));
        var revoked = await h.Service.CreateAsync("carol");
        Assert.True((await h.Service.InvalidateAsync(revoked.AccessToken)).Value);
        Clock.Advance(TimeSpan.FromMinutes(10)); // the cookie-style session idles out; the first refresh token is still unexpired

        Assert.Equal(2, await h.Service.CleanupAsync(TimeSpan.Zero));
        Assert.Null(await h.Tokens.LoadTokenAsync(TokenId(revoked.RefreshToken)));
        Assert.False(await h.Inner.DeleteAsync(expiring.Id));
        Assert.NotNull(await h.Tokens.LoadTokenAsync(TokenId(first.RefreshToken)));

        Assert.Equal(TokenFailure.RefreshTokenReused, (await h.Service.RefreshAsync(first.RefreshToken)).Failure);
        Assert.Equal(1, reported);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.RefreshAsync(current.RefreshToken)).Failure);
    }

    /// <summary>
    /// The chain walk: a token rotated twice within the grace window, then the first refresh token presented again,
    /// still inside the window. Its successor was already rotated, so no grace answer: it is refresh_token_reused, the
    /// session is revoked (the live pair dies with it), <see cref="TesseraTokenEvents.OnRefreshTokenReused"/> is raised
    /// once, and nothing is counted as a grace answer.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ATokenWhoseSuccessorWasAlreadyRotatedIsAReuseEvenWithinTheGraceWindow()
    {
        var reports = new List<RefreshTokenReuseContext>();
        var graceAnswers = 0;
        using var metrics = new TesseraMetricCollector();
        var h = NewHarness(
            o =>
            {
                o.TokenEvents.OnRefreshTokenReused = context =>
                {
                    lock (reports)
                    {
                        reports.Add(context);
                    }
                    return ValueTask.CompletedTask;
                };
                o.TokenEvents.OnRefreshGraceAnswered = _ =>
                {
                    Interlocked.Increment(ref graceAnswers);
                    return ValueTask.CompletedTask;
                };
            },
            metrics);
        var first = await h.Service.CreateAsync("alice");
        var second = (await h.Service.RefreshAsync(first.RefreshToken)).Value!;
        Clock.Advance(TimeSpan.FromSeconds(1));
        var third = (await h.Service.RefreshAsync(second.RefreshToken)).Value!;
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(TimeSpan.FromSeconds(2) < h.Options.Tokens.ReuseGraceWindow, "the walk must happen inside the window");

        var walk = await h.Service.RefreshAsync(first.RefreshToken);

        Assert.Equal(TokenFailure.RefreshTokenReused, walk.Failure);
        Assert.Null(walk.Value);
        Assert.Null(await h.Inner.LoadAsync(first.SessionId));
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.GetAsync(third.AccessToken)).Failure);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.RefreshAsync(third.RefreshToken)).Failure);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.RefreshAsync(second.RefreshToken)).Failure);
        var report = Assert.Single(reports);
        Assert.Equal(first.SessionId, report.SessionId);
        Assert.Equal(TokenId(first.RefreshToken), report.TokenId);
        Assert.Equal(0, graceAnswers);
        Assert.Equal(0, metrics.Sum(TesseraMetrics.TokensGraceAnswered));
        Assert.Equal(1, metrics.Sum(TesseraMetrics.SessionsRevoked, ("reason", "leak")));
    }

    /// <summary>
    /// Only the token just behind the current pair gets a grace answer: after two rotations, the second refresh token
    /// presented again within the window receives the current (third) pair, identical, and the session stays live.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TheTokenJustBehindTheCurrentPairStillGetsItWithinTheGraceWindow()
    {
        var reported = 0;
        var h = NewHarness(o => o.TokenEvents.OnRefreshTokenReused = _ =>
        {
            Interlocked.Increment(ref reported);
            return ValueTask.CompletedTask;
        });
        var first = await h.Service.CreateAsync("alice");
        var second = (await h.Service.RefreshAsync(first.RefreshToken)).Value!;
        var third = (await h.Service.RefreshAsync(second.RefreshToken)).Value!;
        Clock.Advance(TimeSpan.FromSeconds(1));

        var retry = await h.Service.RefreshAsync(second.RefreshToken);

        Assert.True(retry.Succeeded, retry.Reason);
        Assert.Equal(third, retry.Value);
        Assert.Equal(2, h.Counting.Count("Rotate"));
        Assert.Equal(0, reported);
        Assert.True((await h.Service.GetAsync(third.AccessToken)).Succeeded);
    }

    /// <summary>
    /// A grace answer is counted once in <c>tessera.tokens.grace_answered</c> (no tags) and raises
    /// <see cref="TesseraTokenEvents.OnRefreshGraceAnswered"/> with the session, its subject and metadata, the rotation
    /// and answer times, and an 8-character SHA-256 prefix of the presented token, never the token. The rotation itself
    /// is no grace answer.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AGraceAnswerIsCountedAndRaisesItsEventWithAShortHashOfTheToken()
    {
        var answers = new List<RefreshGraceContext>();
        using var metrics = new TesseraMetricCollector();
        var h = NewHarness(
            o => o.TokenEvents.OnRefreshGraceAnswered = context =>
            {
                lock (answers)
                {
                    answers.Add(context);
                }
                return ValueTask.CompletedTask;
            },
            metrics);
        var first = await h.Service.CreateAsync("alice", metadata: new SessionMetadata("phone", null, null));
        var second = (await h.Service.RefreshAsync(first.RefreshToken)).Value!;
        Assert.Empty(answers);
        Assert.Equal(0, metrics.Sum(TesseraMetrics.TokensGraceAnswered));
        Clock.Advance(TimeSpan.FromSeconds(2));

        var retry = await h.Service.RefreshAsync(first.RefreshToken);

        Assert.Equal(second, retry.Value);
        var answer = Assert.Single(answers);
        Assert.Equal(first.SessionId, answer.SessionId);
        Assert.Equal("alice", answer.Subject);
        Assert.Equal("phone", answer.Metadata.UserAgent);
        Assert.Equal(TimeSpan.FromSeconds(2), answer.AnsweredAt - answer.RotatedAt);
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(first.RefreshToken)))[..8];
        Assert.Equal(hash, answer.TokenHash);
        var counted = Assert.Single(metrics.Counter(TesseraMetrics.TokensGraceAnswered).GetMeasurementSnapshot());
        Assert.Equal(1, counted.Value);
        Assert.Empty(counted.Tags);
        foreach (var secret in new[] { first.AccessToken, first.RefreshToken, second.AccessToken, second.RefreshToken })
        {
            Assert.DoesNotContain(secret, Logs.AllText(), StringComparison.Ordinal);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // What a signing key alone can do with a captured token: no more than the token itself
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// A captured access token re-signed with the real key and an exp a year away works no longer than the original:
    /// once its stored record's expiry (plus <see cref="TesseraTokenOptions.ClockSkew"/>) has passed it is
    /// expired_token, though its session lives on.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AnAccessTokenReSignedWithAFarExpIsRefusedOnceItsStoredExpiryPasses()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");
        var record = (await h.Tokens.LoadTokenAsync(TokenId(pair.AccessToken)))!.Token;
        var forged = h.Service.Codec.Mint(record with { ExpiresAt = record.ExpiresAt.AddYears(1) });
        Assert.NotEqual(pair.AccessToken, forged);
        Assert.True((await h.Service.GetAsync(forged)).Succeeded, "until its record expires, the copy is as good as the original");

        Clock.Advance(h.Options.Tokens.AccessTokenLifetime + h.Options.Tokens.ClockSkew + TimeSpan.FromSeconds(1));

        Assert.Equal(TokenFailure.ExpiredToken, (await h.Service.GetAsync(pair.AccessToken)).Failure);
        Assert.Equal(TokenFailure.ExpiredToken, (await h.Service.GetAsync(forged)).Failure);
        Assert.True((await h.Service.RefreshAsync(pair.RefreshToken)).Succeeded, "the session itself lives on");
    }

    /// <summary>
    /// A rotated refresh token whose stored expiry has passed (its tombstone still kept), re-signed with the real key
    /// and a far exp, is expired_token: not a reuse, so a key and an old token can neither revoke the session nor
    /// raise the alarm.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task AnExpiredRotatedRefreshTokenReSignedWithAFarExpIsExpiredAndRevokesNothing()
    {
        var reported = 0;
        var h = NewHarness(o => o.TokenEvents.OnRefreshTokenReused = _ =>
        {
            Interlocked.Increment(ref reported);
            return ValueTask.CompletedTask;
        });
        var first = await h.Service.CreateAsync("alice");
        Clock.Advance(h.Options.Tokens.RefreshTokenLifetime - TimeSpan.FromHours(1));
        var current = (await h.Service.RefreshAsync(first.RefreshToken)).Value!;
        Clock.Advance(TimeSpan.FromHours(1) + h.Options.Tokens.ClockSkew + TimeSpan.FromSeconds(1));
        var record = (await h.Tokens.LoadTokenAsync(TokenId(first.RefreshToken)))!.Token;
        Assert.NotNull(record.RevokedAt);
        var forged = h.Service.Codec.Mint(record with { ExpiresAt = record.ExpiresAt.AddYears(1) });

        Assert.Equal(TokenFailure.ExpiredToken, (await h.Service.RefreshAsync(forged)).Failure);

        Assert.Equal(0, reported);
        Assert.True((await h.Service.RefreshAsync(current.RefreshToken)).Succeeded, "the session must survive");
    }

    /// <summary>
    /// Switching <c>token_use</c> with the real key converts nothing, the stored kind decides: an access token re-signed
    /// as a refresh token is wrong_token_type at refresh, whether it is live or already rotated away (then it is not
    /// taken for a reused refresh token either: no revocation, no alarm), and a refresh token re-signed as an access
    /// token is wrong_token_type on a request.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ATokenReSignedAsTheOtherKindIsTheWrongTokenTypeAndRevokesNothing()
    {
        var reported = 0;
        var h = NewHarness(o => o.TokenEvents.OnRefreshTokenReused = _ =>
        {
            Interlocked.Increment(ref reported);
            return ValueTask.CompletedTask;
        });
        var first = await h.Service.CreateAsync("alice");
        var firstAccess = (await h.Tokens.LoadTokenAsync(TokenId(first.AccessToken)))!.Token;
        var accessAsRefresh = h.Service.Codec.Mint(firstAccess with { Kind = TokenKind.Refresh });
        Assert.Equal(TokenFailure.WrongTokenType, (await h.Service.RefreshAsync(accessAsRefresh)).Failure);
        Assert.Equal(0, h.Counting.Count("Rotate"));

        var second = (await h.Service.RefreshAsync(first.RefreshToken)).Value!;
        Clock.Advance(h.Options.Tokens.ReuseGraceWindow + TimeSpan.FromSeconds(1));
        Assert.Equal(TokenFailure.WrongTokenType, (await h.Service.RefreshAsync(accessAsRefresh)).Failure);
        Assert.Equal(0, reported);
        Assert.True((await h.Service.GetAsync(second.AccessToken)).Succeeded, "the session must survive");

        var secondRefresh = (await h.Tokens.LoadTokenAsync(TokenId(second.RefreshToken)))!.Token;
        var refreshAsAccess = h.Service.Codec.Mint(secondRefresh with { Kind = TokenKind.Access });
        Assert.Equal(TokenFailure.WrongTokenType, (await h.Service.GetAsync(refreshAsAccess)).Failure);
        Assert.True((await h.Service.RefreshAsync(second.RefreshToken)).Succeeded);
    }

    /// <summary>
    /// <see cref="ISessionTokenStore.LoadRefreshTokenAsync"/> returns, with the token and its session, the successor
    /// refresh token and its access token as stored: absent before a rotation, then the pair that replaced the token,
    /// revoked once that pair was itself rotated.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task LoadingARefreshTokenGivesItsSuccessorPairAsStored()
    {
        var h = NewHarness();
        var first = await h.Service.CreateAsync("alice");
        var before = (await h.Tokens.LoadRefreshTokenAsync(TokenId(first.RefreshToken)))!;
        Assert.Equal(TokenId(first.RefreshToken), before.Token.Id);
        Assert.Equal(first.SessionId, before.Session!.Id);
        Assert.Null(before.Successor);
        Assert.Null(before.SuccessorAccess);
        Assert.Null(await h.Tokens.LoadRefreshTokenAsync(Guid.NewGuid().ToString("D")));

        var second = (await h.Service.RefreshAsync(first.RefreshToken)).Value!;
        var rotated = (await h.Tokens.LoadRefreshTokenAsync(TokenId(first.RefreshToken)))!;
        Assert.NotNull(rotated.Token.RevokedAt);
        AssertToken(rotated.Successor!, TokenId(second.RefreshToken), first.SessionId, TokenKind.Refresh, TokenId(second.AccessToken), second.RefreshTokenExpiresAt);
        AssertToken(rotated.SuccessorAccess!, TokenId(second.AccessToken), first.SessionId, TokenKind.Access, TokenId(second.RefreshToken), second.AccessTokenExpiresAt);
        Assert.Null(rotated.Successor!.RevokedAt);
        Assert.Null(rotated.SuccessorAccess!.RevokedAt);

        await h.Service.RefreshAsync(second.RefreshToken);
        var behind = (await h.Tokens.LoadRefreshTokenAsync(TokenId(first.RefreshToken)))!;
        Assert.NotNull(behind.Successor!.RevokedAt);
        Assert.NotNull(behind.SuccessorAccess!.RevokedAt);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Lifetimes
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Tokens are capped by the session's absolute lifetime: no exp ever passes it, however often the session is
    /// refreshed, and the session ends at it.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TokensNeverOutliveTheSessionsAbsoluteLifetime()
    {
        var h = NewHarness(o =>
        {
            o.Tokens.SessionLifetime = TimeSpan.FromHours(1);
            o.Tokens.RefreshTokenLifetime = TimeSpan.FromMinutes(45);
            o.Tokens.AccessTokenLifetime = TimeSpan.FromMinutes(20);
        });
        var created = Clock.GetUtcNow();
        var end = created + TimeSpan.FromHours(1);
        var pair = await h.Service.CreateAsync("alice");
        AssertCapped(pair, end);

        Clock.Advance(TimeSpan.FromMinutes(40));
        pair = (await h.Service.RefreshAsync(pair.RefreshToken)).Value!;
        AssertCapped(pair, end);
        Assert.Equal(end, pair.RefreshTokenExpiresAt);
        Assert.Equal(end, pair.AccessTokenExpiresAt);

        Clock.Advance(TimeSpan.FromMinutes(15));
        pair = (await h.Service.RefreshAsync(pair.RefreshToken)).Value!;
        AssertCapped(pair, end);
        var session = (await h.Service.GetAsync(pair.AccessToken)).Value!;
        Assert.Equal(end, session.AbsoluteExpiresAt);
        Assert.True(session.IdleExpiresAt <= end);

        Clock.Advance(TimeSpan.FromMinutes(5));
        Assert.False((await h.Service.GetAsync(pair.AccessToken)).Succeeded);
        Assert.False((await h.Service.RefreshAsync(pair.RefreshToken)).Succeeded);
        Assert.Null(await h.Inner.LoadAsync(pair.SessionId));
    }

    /// <summary>
    /// A token session's idle deadline follows refresh: refreshed every 20 hours with a 1-day refresh lifetime, it lives
    /// far beyond the cookie idle timeout, and it dies when it is not refreshed within the refresh lifetime.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ATokenSessionsIdleDeadlineFollowsRefresh()
    {
        var h = NewHarness(o => o.Tokens.RefreshTokenLifetime = TimeSpan.FromDays(1));
        Assert.Equal(TimeSpan.FromMinutes(30), h.Options.IdleTimeout);
        var pair = await h.Service.CreateAsync("alice");

        for (var i = 0; i < 4; i++)
        {
            Clock.Advance(TimeSpan.FromHours(20));
            Assert.NotNull(await h.Inner.LoadAsync(pair.SessionId));
            var refreshed = await h.Service.RefreshAsync(pair.RefreshToken);
            Assert.True(refreshed.Succeeded, $"refresh {i + 1}: {refreshed.Reason}");
            pair = refreshed.Value!;
            Assert.True((await h.Service.GetAsync(pair.AccessToken)).Succeeded);
        }
        var session = await h.Inner.LoadAsync(pair.SessionId);
        Assert.NotNull(session);
        Assert.Equal(pair.RefreshTokenExpiresAt, session.IdleExpiresAt);

        Clock.Advance(TimeSpan.FromHours(23));
        Assert.NotNull(await h.Inner.LoadAsync(pair.SessionId));

        Clock.Advance(TimeSpan.FromHours(1)); // a full refresh lifetime without a refresh
        Assert.Null(await h.Inner.LoadAsync(pair.SessionId));
        Assert.Equal(TokenFailure.InvalidSession, (await h.Service.RefreshAsync(pair.RefreshToken)).Failure);
        Clock.Advance(h.Options.Tokens.ClockSkew);
        Assert.Equal(TokenFailure.ExpiredToken, (await h.Service.RefreshAsync(pair.RefreshToken)).Failure);
    }

    /// <summary>
    /// Writing to a token session through a session view (as the bearer transport does) keeps its idle deadline where
    /// refresh put it instead of shortening it to the cookie idle timeout.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task WritingThroughASessionViewNeverShortensATokenSessionsIdleDeadline()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");
        Clock.Advance(TimeSpan.FromMinutes(2));

        var view = h.Manager.OpenWithAccessToken(pair.AccessToken);
        await view.LoadAsync();
        view.Set("cart", new[] { "apple" });
        await view.CommitAsync();

        var session = (await h.Service.GetAsync(pair.AccessToken)).Value!;
        AssertSameJson("[\"apple\"]", session.Data["cart"]);
        Assert.Equal(pair.RefreshTokenExpiresAt, session.IdleExpiresAt);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The store contract directly
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Storing a pair for a revoked, expired or missing session, or with a taken token id, writes nothing.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task StoringTokensForASessionThatIsNotLiveOrWithATakenIdWritesNothing()
    {
        var h = NewHarness();
        var live = await h.Service.CreateAsync("alice");
        var revoked = await h.Service.CreateAsync("bob");
        Assert.True(await h.Manager.RevokeAsync(revoked.SessionId));
        var now = Clock.GetUtcNow();

        var forRevoked = NewPair(revoked.SessionId, now);
        Assert.False(await h.Tokens.CreateTokensAsync(forRevoked.Access, forRevoked.Refresh));
        Assert.Null(await h.Tokens.LoadTokenAsync(forRevoked.Access.Id));

        var forMissing = NewPair(Guid.NewGuid().ToString("D"), now);
        Assert.False(await h.Tokens.CreateTokensAsync(forMissing.Access, forMissing.Refresh));

        var taken = NewPair(live.SessionId, now);
        taken = (taken.Access, taken.Refresh with { Id = TokenId(live.RefreshToken) });
        Assert.False(await h.Tokens.CreateTokensAsync(taken.Access, taken.Refresh));
        Assert.Null(await h.Tokens.LoadTokenAsync(taken.Access.Id));
        Assert.Equal(TokenKind.Refresh, (await h.Tokens.LoadTokenAsync(TokenId(live.RefreshToken)))!.Token.Kind);

        var extra = NewPair(live.SessionId, now);
        Assert.True(await h.Tokens.CreateTokensAsync(extra.Access, extra.Refresh));
        Assert.False(await h.Tokens.CreateTokensAsync(extra.Access, extra.Refresh), "the same ids twice");
        Assert.Null(await h.Tokens.LoadTokenAsync(Guid.NewGuid().ToString("D")));
    }

    /// <summary>Loading a token gives its session whatever the session's state: live, revoked or expired, with its data.</summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task LoadingATokenGivesItsSessionWhateverItsState()
    {
        var h = NewHarness();
        var revoked = await h.Service.CreateAsync("bob", Data(("a", "1")));
        Assert.True(await h.Manager.RevokeAsync(revoked.SessionId));
        var expiring = await h.Service.CreateAsync("carol", Data(("b", "2")));

        var lookup = await h.Tokens.LoadTokenAsync(TokenId(revoked.AccessToken));
        Assert.NotNull(lookup?.Session);
        Assert.Equal(revoked.SessionId, lookup.Session.Id);
        Assert.NotNull(lookup.Session.RevokedAt);
        AssertSameJson("1", lookup.Session.Data["a"]);

        Clock.Advance(h.Options.Tokens.RefreshTokenLifetime);
        lookup = await h.Tokens.LoadTokenAsync(TokenId(expiring.RefreshToken));
        Assert.NotNull(lookup?.Session);
        Assert.Equal("carol", lookup.Session.Subject);
        Assert.False(lookup.Session.IsActiveAt(Clock.GetUtcNow()));
        AssertSameJson("2", lookup.Session.Data["b"]);
    }

    /// <summary>
    /// Rotating an unknown token or an access token is NotFound, a revoked session's token SessionNotLive, a rotated
    /// token AlreadyRevoked; none of them writes anything.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task RotationsThatCannotHappenReportWhyAndWriteNothing()
    {
        var h = NewHarness();
        var live = await h.Service.CreateAsync("alice");
        var revoked = await h.Service.CreateAsync("bob");
        Assert.True(await h.Manager.RevokeAsync(revoked.SessionId));
        var now = Clock.GetUtcNow();

        var c1 = NewPair(live.SessionId, now);
        Assert.Equal(TokenRotationOutcome.NotFound, await h.Tokens.RotateAsync(Guid.NewGuid().ToString("D"), c1.Access, c1.Refresh, now));
        Assert.Equal(TokenRotationOutcome.NotFound, await h.Tokens.RotateAsync(TokenId(live.AccessToken), c1.Access, c1.Refresh, now));
        var c2 = NewPair(revoked.SessionId, now);
        Assert.Equal(TokenRotationOutcome.SessionNotLive, await h.Tokens.RotateAsync(TokenId(revoked.RefreshToken), c2.Access, c2.Refresh, now));
        var foreign = NewPair(revoked.SessionId, now);
        Assert.Equal(TokenRotationOutcome.SessionNotLive, await h.Tokens.RotateAsync(TokenId(live.RefreshToken), foreign.Access, foreign.Refresh, now));
        foreach (var id in new[] { c1.Access.Id, c1.Refresh.Id, c2.Access.Id, c2.Refresh.Id, foreign.Access.Id, foreign.Refresh.Id })
        {
            Assert.Null(await h.Tokens.LoadTokenAsync(id));
        }
        Assert.Null((await h.Tokens.LoadTokenAsync(TokenId(live.RefreshToken)))!.Token.RevokedAt);
        Assert.Null((await h.Tokens.LoadTokenAsync(TokenId(revoked.RefreshToken)))!.Token.RevokedAt);

        var c3 = NewPair(live.SessionId, now);
        Assert.Equal(TokenRotationOutcome.Rotated, await h.Tokens.RotateAsync(TokenId(live.RefreshToken), c3.Access, c3.Refresh, now));
        var c4 = NewPair(live.SessionId, now);
        Assert.Equal(TokenRotationOutcome.AlreadyRevoked, await h.Tokens.RotateAsync(TokenId(live.RefreshToken), c4.Access, c4.Refresh, now));
        Assert.Null(await h.Tokens.LoadTokenAsync(c4.Refresh.Id));
        Assert.Equal(c3.Refresh.Id, (await h.Tokens.LoadTokenAsync(TokenId(live.RefreshToken)))!.Token.SuccessorId);
    }

    /// <summary>
    /// A rotation sets last-seen and moves the idle deadline out to the new refresh token's expiry (capped by the
    /// absolute deadline), but never pulls it in.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ARotationExtendsTheIdleDeadlineButNeverShortensIt()
    {
        var h = NewHarness();
        var pair = await h.Service.CreateAsync("alice");
        var before = (await h.Inner.LoadAsync(pair.SessionId))!;
        Clock.Advance(TimeSpan.FromMinutes(3));
        var now = DateTimeOffset.FromUnixTimeSeconds(Clock.GetUtcNow().ToUnixTimeSeconds());

        var shorter = NewPair(pair.SessionId, now, refreshLifetime: TimeSpan.FromMinutes(10));
        Assert.Equal(TokenRotationOutcome.Rotated, await h.Tokens.RotateAsync(TokenId(pair.RefreshToken), shorter.Access, shorter.Refresh, now));
        var after = (await h.Inner.LoadAsync(pair.SessionId))!;
        Assert.Equal(before.IdleExpiresAt, after.IdleExpiresAt);
        Assert.Equal(now, after.LastSeenAt);

        Clock.Advance(TimeSpan.FromMinutes(1));
        var later = NewPair(pair.SessionId, now, refreshLifetime: h.Options.Tokens.RefreshTokenLifetime + TimeSpan.FromHours(1));
        Assert.Equal(TokenRotationOutcome.Rotated, await h.Tokens.RotateAsync(shorter.Refresh.Id, later.Access, later.Refresh, now));
        Assert.Equal(later.Refresh.ExpiresAt, (await h.Inner.LoadAsync(pair.SessionId))!.IdleExpiresAt);

        var beyond = NewPair(pair.SessionId, now, refreshLifetime: TimeSpan.FromDays(365));
        Assert.Equal(TokenRotationOutcome.Rotated, await h.Tokens.RotateAsync(later.Refresh.Id, beyond.Access, beyond.Refresh, now));
        var capped = (await h.Inner.LoadAsync(pair.SessionId))!;
        Assert.Equal(capped.AbsoluteExpiresAt, capped.IdleExpiresAt);
        Assert.Equal(capped.AbsoluteExpiresAt, capped.ExpiresAt);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The Compas profile
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Under the Compas profile the payload is exactly <c>{exp, compasSessionAccessToken}</c> or
    /// <c>{exp, compasSessionRefreshToken}</c> and the header exactly <c>{"alg":"HS256","typ":"JWT"}</c>.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TheCompasProfileWritesCompasExactHeaderAndPayload()
    {
        var h = NewHarness(o => o.Tokens.Profile = TokenProfile.Compas);

        var pair = await h.Service.CreateAsync("alice");

        foreach (var token in new[] { pair.AccessToken, pair.RefreshToken })
        {
            Assert.Equal("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", System.Text.Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token.Split('.')[0])));
        }
        var access = Payload(pair.AccessToken);
        var refresh = Payload(pair.RefreshToken);
        Assert.Equal("exp,compasSessionAccessToken", string.Join(',', access.EnumerateObject().Select(p => p.Name)));
        Assert.Equal("exp,compasSessionRefreshToken", string.Join(',', refresh.EnumerateObject().Select(p => p.Name)));
        Assert.Equal(pair.AccessTokenExpiresAt.ToUnixTimeSeconds(), access.GetProperty("exp").GetInt64());
        Assert.Equal(pair.RefreshTokenExpiresAt.ToUnixTimeSeconds(), refresh.GetProperty("exp").GetInt64());
        var accessRecord = await h.Tokens.LoadTokenAsync(access.GetProperty("compasSessionAccessToken").GetString()!);
        var refreshRecord = await h.Tokens.LoadTokenAsync(refresh.GetProperty("compasSessionRefreshToken").GetString()!);
        Assert.Equal(TokenKind.Access, accessRecord!.Token.Kind);
        Assert.Equal(TokenKind.Refresh, refreshRecord!.Token.Kind);
        Assert.Equal(pair.SessionId, accessRecord.Token.SessionId);
        Assert.Equal(refreshRecord.Token.Id, accessRecord.Token.PairedTokenId);
    }

    /// <summary>
    /// The whole flow works under the Compas profile: get, wrong type, update, refresh, a retry in the grace window,
    /// reuse detection, invalidate and cleanup.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task TheWholeFlowWorksUnderTheCompasProfile()
    {
        var reported = 0;
        var h = NewHarness(o =>
        {
            o.Tokens.Profile = TokenProfile.Compas;
            o.TokenEvents.OnRefreshTokenReused = _ =>
            {
                Interlocked.Increment(ref reported);
                return ValueTask.CompletedTask;
            };
        });
        var pair = await h.Service.CreateAsync("alice", Data(("foo", "{\"a\":1,\"b\":2}")));

        Assert.Equal("alice", (await h.Service.GetAsync(pair.AccessToken)).Value!.Subject);
        Assert.Equal(TokenFailure.WrongTokenType, (await h.Service.GetAsync(pair.RefreshToken)).Failure);
        Assert.Equal(TokenFailure.WrongTokenType, (await h.Service.RefreshAsync(pair.AccessToken)).Failure);
        Assert.Equal(TokenFailure.InvalidToken, (await h.Service.GetAsync(pair.AccessToken[..^2])).Failure);
        Assert.False((await h.Service.UpdateAsync(pair.AccessToken, Data(("foo", "{\"b\":2,\"a\":1}")))).Value);
        Assert.True((await h.Service.UpdateAsync(pair.AccessToken, Data(("foo", "{\"a\":3}")))).Value);

        Clock.Advance(TimeSpan.FromMinutes(1));
        var next = (await h.Service.RefreshAsync(pair.RefreshToken)).Value!;
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.GetAsync(pair.AccessToken)).Failure);
        AssertSameJson("{\"a\":3}", (await h.Service.GetAsync(next.AccessToken)).Value!.Data["foo"]);
        Assert.Equal(next, (await h.Service.RefreshAsync(pair.RefreshToken)).Value);
        Assert.Equal(TokenId(next.RefreshToken), (await h.Tokens.LoadTokenAsync(TokenId(pair.RefreshToken)))!.Token.SuccessorId);

        Clock.Advance(h.Options.Tokens.ReuseGraceWindow + TimeSpan.FromSeconds(1));
        Assert.Equal(TokenFailure.RefreshTokenReused, (await h.Service.RefreshAsync(pair.RefreshToken)).Failure);
        Assert.Equal(1, reported);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.GetAsync(next.AccessToken)).Failure);

        var other = await h.Service.CreateAsync("bob");
        Assert.True((await h.Service.InvalidateAsync(other.AccessToken)).Value);
        Assert.Equal(TokenFailure.RevokedToken, (await h.Service.RefreshAsync(other.RefreshToken)).Failure);
        if (Cleanup(h))
        {
            Assert.Equal(2, await h.Service.CleanupAsync(TimeSpan.Zero));
            Assert.Null(await h.Tokens.LoadTokenAsync(TokenId(other.RefreshToken)));
            Assert.Equal(TokenFailure.InvalidSession, (await h.Service.GetAsync(other.AccessToken)).Failure);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// A session refreshed for longer than its tokens live keeps only the rotated tokens that could still be presented:
    /// each rotation drops the session's rotated tokens that expired more than
    /// <see cref="TesseraDefaults.ExpiredTokenRetention"/> ago, so the store does not grow by a pair per refresh for the
    /// session's whole life (found by the soak in bench/).
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task RefreshingForLongerThanATokenLivesDropsTheExpiredRotatedTokens()
    {
        var h = NewHarness(o =>
        {
            o.Tokens.AccessTokenLifetime = TimeSpan.FromMinutes(1);
            o.Tokens.RefreshTokenLifetime = TimeSpan.FromMinutes(10);
        });
        var pair = await h.Service.CreateAsync("alice");
        var rotated = new List<(string Access, string Refresh)>();
        for (var minute = 1; minute <= 20; minute++)
        {
            Clock.Advance(TimeSpan.FromMinutes(1));
            var refreshed = await h.Service.RefreshAsync(pair.RefreshToken);
            Assert.True(refreshed.Succeeded, refreshed.Reason);
            rotated.Add((TokenId(pair.AccessToken), TokenId(pair.RefreshToken)));
            pair = refreshed.Value!;
        }

        // The i-th rotated refresh token expired at minute i + 10 and the last rotation (minute 20) dropped what expired
        // before minute 19: refresh tokens 0 to 8 are gone, 9 to 19 kept; access tokens (1 minute) 0 to 17 gone.
        var refreshKept = new List<int>();
        var accessKept = new List<int>();
        for (var i = 0; i < rotated.Count; i++)
        {
            if (await h.Tokens.LoadTokenAsync(rotated[i].Refresh) is not null)
            {
                refreshKept.Add(i);
            }
            if (await h.Tokens.LoadTokenAsync(rotated[i].Access) is not null)
            {
                accessKept.Add(i);
            }
        }
        Assert.Equal(Enumerable.Range(9, 11), refreshKept);
        Assert.Equal([18, 19], accessKept);
        Assert.NotNull(await h.Tokens.LoadTokenAsync(TokenId(pair.AccessToken)));
        Assert.NotNull(await h.Tokens.LoadTokenAsync(TokenId(pair.RefreshToken)));
        Assert.True((await h.Service.GetAsync(pair.AccessToken)).Succeeded);
    }

    /// <summary>
    /// Builds a store with <see cref="StoreKitTests{TKit}.CreateStore"/>, wraps it in a <see cref="CountingSessionStore"/>, and builds a
    /// manager over it on <see cref="StoreKitTests{TKit}.Clock"/>: one fresh signing key, then <see cref="ConfigureOptions"/>, then
    /// <paramref name="configure"/>. The options must pass <see cref="TesseraOptionsValidator"/>.
    /// </summary>
    /// <param name="configure">The test's own settings, or <see langword="null"/>.</param>
    /// <param name="metrics">Records the manager's metrics, or <see langword="null"/> for the shared static meter.</param>
    /// <returns>The store, its token view, the counter and the manager.</returns>
    protected TokenHarness NewHarness(Action<TesseraOptions>? configure = null, TesseraMetricCollector? metrics = null)
    {
        var inner = CreateStore();
        var tokens = inner as ISessionTokenStore ?? throw new Xunit.Sdk.XunitException(
            $"{inner.GetType().Name} does not implement ISessionTokenStore, so it cannot keep token sessions. Implement it to run {GetType().Name}, or do not inherit TokenSessionConformanceTests.");
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        ConfigureOptions(options);
        configure?.Invoke(options);
        var validation = new TesseraOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new Xunit.Sdk.XunitException("The test's options are invalid: " + validation.FailureMessage);
        }
        var counting = new CountingSessionStore(inner);
#pragma warning disable CA2000 // the factory does not own the provider; the test class does, for its whole life
        var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(new FakeLoggerProvider(Logs)).SetMinimumLevel(LogLevel.Trace));
#pragma warning restore CA2000
        var manager = new SessionManager(counting, Options.Create(options), Clock, loggerFactory.CreateLogger<SessionManager>(), metrics is null ? null : new TesseraMetrics(metrics.Factory));
        return new TokenHarness(inner, tokens, counting, manager);
    }

    /// <summary>
    /// Whether this store's cleanup tests run: <see langword="false"/> when <see cref="SupportsCleanup"/> declares the
    /// gap; fails when the store lacks <see cref="ISessionStoreCleanup"/> without declaring it.
    /// </summary>
    /// <param name="harness">The harness whose store is checked.</param>
    /// <returns>Whether to run the cleanup part.</returns>
    protected bool Cleanup(TokenHarness harness)
    {
        ArgumentNullException.ThrowIfNull(harness);
        if (!SupportsCleanup)
        {
            return false;
        }
        return harness.Inner is ISessionStoreCleanup ? true : throw new Xunit.Sdk.XunitException(
            $"{harness.Inner.GetType().Name} does not implement ISessionStoreCleanup. Implement it, or override SupportsCleanup to return false in {GetType().Name} to declare that the store lacks it.");
    }

    /// <summary>Builds session data from pairs of key and JSON text.</summary>
    /// <param name="pairs">The keys and JSON texts.</param>
    /// <returns>The data.</returns>
    protected static Dictionary<string, string> Data(params (string Key, string Json)[] pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, json) in pairs)
        {
            data[key] = json;
        }
        return data;
    }

    /// <summary>Decodes a JWT's payload (the middle part) without checking anything.</summary>
    /// <param name="jwt">The token.</param>
    /// <returns>The payload's root element.</returns>
    protected static JsonElement Payload(string jwt)
    {
        ArgumentNullException.ThrowIfNull(jwt);
        var parts = jwt.Split('.');
        Assert.Equal(3, parts.Length);
        using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        return document.RootElement.Clone();
    }

    /// <summary>The token id a JWT carries: its <c>jti</c>, or under the Compas profile its Compas claim.</summary>
    /// <param name="jwt">The token.</param>
    /// <returns>The id.</returns>
    protected static string TokenId(string jwt)
    {
        var payload = Payload(jwt);
        foreach (var claim in new[] { "jti", "compasSessionAccessToken", "compasSessionRefreshToken" })
        {
            if (payload.TryGetProperty(claim, out var id))
            {
                return id.GetString()!;
            }
        }
        throw new Xunit.Sdk.XunitException("The token carries no token id.");
    }

    /// <summary>A new, unstored token pair for a session, issued at <paramref name="now"/> (cut to whole seconds).</summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="now">The issue time.</param>
    /// <param name="refreshLifetime">The refresh token's lifetime; 1 day when <see langword="null"/>. The access token lives 5 minutes.</param>
    /// <returns>The access and refresh records, paired with each other.</returns>
    protected static (TokenRecord Access, TokenRecord Refresh) NewPair(string sessionId, DateTimeOffset now, TimeSpan? refreshLifetime = null)
    {
        var issued = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        var accessId = Guid.NewGuid().ToString("D");
        var refreshId = Guid.NewGuid().ToString("D");
        var access = new TokenRecord
        {
            Id = accessId,
            SessionId = sessionId,
            Kind = TokenKind.Access,
            PairedTokenId = refreshId,
            CreatedAt = issued,
            ExpiresAt = issued + TimeSpan.FromMinutes(5),
        };
        return (access, access with
        {
            Id = refreshId,
            Kind = TokenKind.Refresh,
            PairedTokenId = accessId,
            ExpiresAt = issued + (refreshLifetime ?? TimeSpan.FromDays(1)),
        });
    }

    /// <summary>
    /// Asserts that two JSON texts hold the same value. The token suite compares values, not texts: whether a store keeps
    /// the exact text is the store suite's business (<see cref="SessionStoreConformanceTests{TKit}"/>), so a failure there is
    /// not reported twice.
    /// </summary>
    /// <param name="expected">The JSON text expected.</param>
    /// <param name="actual">The JSON text found.</param>
    protected static void AssertSameJson(string expected, string actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        using var left = JsonDocument.Parse(expected);
        using var right = JsonDocument.Parse(actual);
        Assert.True(JsonElement.DeepEquals(left.RootElement, right.RootElement), $"expected the JSON value {expected}, found {actual}");
    }

    private static void AssertToken(TokenRecord token, string id, string sessionId, TokenKind kind, string pairedId, DateTimeOffset expiresAt)
    {
        Assert.Equal(id, token.Id);
        Assert.Equal(sessionId, token.SessionId);
        Assert.Equal(kind, token.Kind);
        Assert.Equal(pairedId, token.PairedTokenId);
        Assert.Equal(expiresAt, token.ExpiresAt);
    }

    private static void AssertCapped(TokenPair pair, DateTimeOffset end)
    {
        Assert.True(pair.AccessTokenExpiresAt <= end, $"access token expires at {pair.AccessTokenExpiresAt:O}, after the session's end {end:O}");
        Assert.True(pair.RefreshTokenExpiresAt <= end, $"refresh token expires at {pair.RefreshTokenExpiresAt:O}, after the session's end {end:O}");
        Assert.True(Payload(pair.AccessToken).GetProperty("exp").GetInt64() <= end.ToUnixTimeSeconds());
        Assert.True(Payload(pair.RefreshToken).GetProperty("exp").GetInt64() <= end.ToUnixTimeSeconds());
    }
}

/// <summary>What a token conformance test works with: the store, its token view, a counting wrapper and a manager.</summary>
/// <param name="Inner">The store under test, as <see cref="StoreKitTests{TKit}.CreateStore"/> made it.</param>
/// <param name="Tokens">The same store as an <see cref="ISessionTokenStore"/>.</param>
/// <param name="Counting">The counting wrapper the manager uses, for "how many writes" checks.</param>
/// <param name="Manager">The manager over <paramref name="Counting"/>.</param>
public sealed record TokenHarness(ISessionStore Inner, ISessionTokenStore Tokens, CountingSessionStore Counting, SessionManager Manager)
{
    /// <summary>The manager's token service.</summary>
    public SessionTokenService Service => Manager.Tokens;

    /// <summary>The manager's options.</summary>
    public TesseraOptions Options => Manager.Options;
}
