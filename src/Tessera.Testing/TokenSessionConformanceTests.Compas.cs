using System.Buffers.Text;
using Tessera.Tokens;
using Xunit;

namespace Tessera.Testing;

public abstract partial class TokenSessionConformanceTests<TKit>
    where TKit : StoreKit, new()
{
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

        Assert.Equal(0, h.Counting.Rotations);
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
        Assert.Equal(1, h.Counting.Rotations);

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
}
