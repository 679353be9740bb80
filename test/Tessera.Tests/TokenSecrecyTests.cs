using Microsoft.Extensions.Time.Testing;
using System.Text;
using Microsoft.Extensions.Logging;
using Tessera.Testing;
using Tessera.Tokens;

namespace Tessera.Tests;

/// <summary>Tokens are secrets: no log line, exception or ToString carries one, whatever goes wrong.</summary>
public sealed class TokenSecrecyTests
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly InMemorySessionStore _store;
    private readonly TestLogger<SessionManager> _logger = new();
    private readonly SessionManager _manager;

    public TokenSecrecyTests()
    {
        _store = new InMemorySessionStore(_clock);
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        _manager = new SessionManager(_store, Microsoft.Extensions.Options.Options.Create(options), _clock, _logger);
    }

    /// <summary>The token and the parts of it that would let someone rebuild it (payload and signature).</summary>
    private static IEnumerable<string> SecretsOf(string token)
    {
        var parts = token.Split('.');
        return [token, parts[1], parts[2]];
    }

    private static void AssertNoSecret(string text, IEnumerable<string> tokens)
    {
        foreach (var secret in tokens.SelectMany(SecretsOf))
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task NoLogLineOrEventContainsATokenThroughCreateRefreshReuseAndRejection()
    {
        var tokens = new List<string>();
        var handlerCalls = 0;
        _manager.Options.TokenEvents.OnRefreshTokenReused = context =>
        {
            handlerCalls++;
            AssertNoSecret(context.ToString(), tokens);
            throw new InvalidOperationException("the alerting system is down");
        };

        var pair = await _manager.Tokens.CreateAsync("alice", metadata: new SessionMetadata { UserAgent = "test-agent" });
        tokens.AddRange([pair.AccessToken, pair.RefreshToken]);
        var tampered = pair.AccessToken[..^2] + (pair.AccessToken[^2] == 'A' ? "BA" : "AA");

        Assert.Equal(TokenFailure.InvalidToken, (await _manager.Tokens.GetAsync(tampered)).Failure);
        Assert.Equal(TokenFailure.WrongTokenType, (await _manager.Tokens.GetAsync(pair.RefreshToken)).Failure);
        var rejected = _manager.OpenWithAccessToken(pair.RefreshToken);
        await rejected.LoadAsync();
        Assert.Equal(TokenFailure.WrongTokenType, rejected.TokenFailure);

        var next = await _manager.Tokens.RefreshAsync(pair.RefreshToken);
        Assert.True(next.Succeeded, next.Reason);
        tokens.AddRange([next.Value!.AccessToken, next.Value.RefreshToken]);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(TokenFailure.RefreshTokenReused, (await _manager.Tokens.RefreshAsync(pair.RefreshToken)).Failure);
        Assert.Equal(1, handlerCalls);
        Assert.Equal(TokenFailure.RevokedToken, (await _manager.Tokens.GetAsync(next.Value.AccessToken)).Failure);
        _clock.Advance(TimeSpan.FromDays(8));
        Assert.Equal(TokenFailure.ExpiredToken, (await _manager.Tokens.GetAsync(next.Value.AccessToken)).Failure);

        var entries = _logger.Entries;
        Assert.Contains(entries, e => e.Level == LogLevel.Warning && e.EventId.Id == 1010); // the reuse warning
        Assert.Contains(entries, e => e.Level == LogLevel.Error && e.Exception is not null);  // the failed handler
        Assert.Contains(entries, e => e.EventId.Id == 1012);                                  // the rejected access token
        foreach (var entry in entries)
        {
            AssertNoSecret(entry.FullText, tokens);
            AssertNoSecret(entry.FullText, [tampered]);
            Assert.DoesNotContain(pair.SessionId, entry.FullText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ATokenPairsToStringHidesBothTokens()
    {
        var pair = await _manager.Tokens.CreateAsync("alice");

        AssertNoSecret(pair.ToString(), [pair.AccessToken, pair.RefreshToken]);
    }

    [Fact]
    public async Task TheExceptionOfAStoreWithoutTokenSupportDoesNotContainTheToken()
    {
        var pair = await _manager.Tokens.CreateAsync("alice");
        var options = new TesseraOptions();
        options.Keys.Add(_manager.Options.Keys[0]);
        var plain = new SessionManager(new RequiredOnlyStore(_store), Microsoft.Extensions.Options.Options.Create(options), _clock);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(async () => await plain.Tokens.GetAsync(pair.AccessToken));

        AssertNoSecret(e.ToString(), [pair.AccessToken]);
    }

    [Fact]
    public async Task HostileTokensNeverThrowAndNeverReachALogLine()
    {
        var pair = await _manager.Tokens.CreateAsync("alice");
        var parts = pair.AccessToken.Split('.');
        static string B64(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
        var hostile = new[]
        {
            B64([0xFF, 0xFE]) + "." + parts[1] + "." + parts[2],
            B64(Encoding.UTF8.GetBytes("{\"alg\":\"HS256\",\"kid\":\"\\ud800\"}")) + "." + parts[1] + "." + parts[2],
            B64(Encoding.UTF8.GetBytes(new string('[', 10_000))) + "." + parts[1] + "." + parts[2],
            B64(Encoding.UTF8.GetBytes("{\"alg\":\"none\"}")) + "." + parts[1] + ".",
            parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[2],
            new string('A', 5000),
            pair.AccessToken.Replace('.', '\0'),
        };

        foreach (var token in hostile)
        {
            Assert.Equal(TokenFailure.InvalidToken, (await _manager.Tokens.GetAsync(token)).Failure);
            Assert.Equal(TokenFailure.InvalidToken, (await _manager.Tokens.RefreshAsync(token)).Failure);
            Assert.Equal(TokenFailure.InvalidToken, (await _manager.Tokens.UpdateAsync(token, new Dictionary<string, string>())).Failure);
            Assert.Equal(TokenFailure.InvalidToken, (await _manager.Tokens.InvalidateAsync(token)).Failure);
            var session = _manager.OpenWithAccessToken(token);
            await session.LoadAsync();
            Assert.Equal(TokenFailure.InvalidToken, session.TokenFailure);
        }

        Assert.True((await _manager.Tokens.GetAsync(pair.AccessToken)).Succeeded);
        foreach (var entry in _logger.Entries)
        {
            foreach (var token in hostile)
            {
                Assert.DoesNotContain(token, entry.FullText, StringComparison.Ordinal);
            }
            AssertNoSecret(entry.FullText, [pair.AccessToken]);
        }
    }
}
