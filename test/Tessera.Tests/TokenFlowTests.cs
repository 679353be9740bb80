using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Options;
using Tessera.Testing;
using Tessera.Tokens;

namespace Tessera.Tests;

public sealed class TokenFlowTests
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly InMemorySessionStore _store;
    private readonly SessionManager _manager;

    public TokenFlowTests()
    {
        _store = new InMemorySessionStore(_clock);
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        _manager = new SessionManager(_store, Options.Create(options), _clock);
    }

    [Fact]
    public async Task ACreatedPairReadsItsSessionAndARefreshRotatesIt()
    {
        var pair = await _manager.Tokens.CreateAsync("alice");

        var got = await _manager.Tokens.GetAsync(pair.AccessToken);
        Assert.True(got.Succeeded, got.Reason);
        Assert.Equal("alice", got.Value!.Subject);

        _clock.Advance(TimeSpan.FromMinutes(1));
        var refreshed = await _manager.Tokens.RefreshAsync(pair.RefreshToken);
        Assert.True(refreshed.Succeeded, refreshed.Reason);
        Assert.NotEqual(pair.AccessToken, refreshed.Value!.AccessToken);
        Assert.Equal(TokenFailure.RevokedToken, (await _manager.Tokens.GetAsync(pair.AccessToken)).Failure);
        Assert.True((await _manager.Tokens.GetAsync(refreshed.Value.AccessToken)).Succeeded);
    }

    [Fact]
    public async Task ARetryInsideTheGraceWindowGetsTheSamePairAndALaterReuseRevokesTheSession()
    {
        RefreshTokenReuseContext? reported = null;
        _manager.Options.TokenEvents.OnRefreshTokenReused = context =>
        {
            reported = context;
            return ValueTask.CompletedTask;
        };
        var pair = await _manager.Tokens.CreateAsync("alice");
        var first = await _manager.Tokens.RefreshAsync(pair.RefreshToken);

        _clock.Advance(TimeSpan.FromSeconds(2));
        var retry = await _manager.Tokens.RefreshAsync(pair.RefreshToken);
        Assert.Equal(first.Value, retry.Value);

        _clock.Advance(TimeSpan.FromSeconds(10));
        var reuse = await _manager.Tokens.RefreshAsync(pair.RefreshToken);
        Assert.Equal(TokenFailure.RefreshTokenReused, reuse.Failure);
        Assert.Equal(TokenFailure.RevokedToken, (await _manager.Tokens.GetAsync(first.Value!.AccessToken)).Failure);
        Assert.NotNull(reported);
        Assert.Equal(pair.SessionId, reported.SessionId);
    }

    [Fact]
    public async Task TheGraceWindowIsMeasuredToTheMillisecondNotToTheWholeSecond()
    {
        var pair = await _manager.Tokens.CreateAsync("alice");
        _clock.Advance(TimeSpan.FromMilliseconds(900));
        Assert.True((await _manager.Tokens.RefreshAsync(pair.RefreshToken)).Succeeded);

        // 5.05 s after the rotation: whole seconds would call this 5 s and still inside the 5 s window.
        _clock.Advance(TimeSpan.FromMilliseconds(5050));
        var reuse = await _manager.Tokens.RefreshAsync(pair.RefreshToken);

        Assert.Equal(TokenFailure.RefreshTokenReused, reuse.Failure);
    }

    [Fact]
    public async Task TokenSessionsRecordMetadataUnderTheConfiguredPrivacyPolicy()
    {
        _manager.Options.Metadata.IpAddress = IpAddressRecording.Truncated;
        _manager.Options.Metadata.RecordUserAgent = false;

        var pair = await _manager.Tokens.CreateAsync("alice", metadata: new SessionMetadata("Firefox", "203.0.113.77", "phone"));

        var session = (await _manager.Tokens.GetAsync(pair.AccessToken)).Value!;
        Assert.Equal(new SessionMetadata(null, "203.0.113.0", "phone"), session.Metadata);
    }

    [Fact]
    public async Task ATokenSessionOpenedByAccessTokenCommitsPerKeyChanges()
    {
        var pair = await _manager.Tokens.CreateAsync("alice");
        var session = _manager.OpenWithAccessToken(pair.AccessToken);
        await session.LoadAsync();
        session.Set("cart", new[] { "apple" });
        await session.CommitAsync();

        var again = _manager.OpenWithAccessToken(pair.AccessToken);
        Assert.Equal(["apple"], again.Get<string[]>("cart")!);

        var rejected = _manager.OpenWithAccessToken(pair.RefreshToken);
        await rejected.LoadAsync();
        Assert.True(rejected.IsNew);
        Assert.Equal(TokenFailure.WrongTokenType, rejected.TokenFailure);
        Assert.Throws<SessionUnavailableException>(() => rejected.Set("x", 1));
    }
}
