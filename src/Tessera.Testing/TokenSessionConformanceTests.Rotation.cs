using Tessera.Tokens;
using Xunit;

namespace Tessera.Testing;

public abstract partial class TokenSessionConformanceTests<TKit>
    where TKit : StoreKit, new()
{
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
        Assert.Equal(1, h.Counting.Rotations);
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
        Assert.Equal(2, h.Counting.Rotations);
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
}
