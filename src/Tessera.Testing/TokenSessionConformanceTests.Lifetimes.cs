using Tessera.Tokens;
using Xunit;

namespace Tessera.Testing;

public abstract partial class TokenSessionConformanceTests<TKit>
    where TKit : StoreKit, new()
{
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
        Assert.Equal(0, h.Counting.Rotations);

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
}
