using Microsoft.Extensions.Time.Testing;
using BenchmarkDotNet.Attributes;
using Tessera.Testing;
using Tessera.Tokens;

namespace Tessera.Benchmarks;

/// <summary>
/// Access tokens: minting and validating the JWT alone (<see cref="JwtTokenCodec"/>), and finding the session behind
/// one through <see cref="SessionTokenService.GetAsync"/> (validation plus one token lookup in the memory store).
/// </summary>
[MemoryDiagnoser]
public class TokenBenchmarks
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private SessionManager _manager = null!;
    private TokenRecord _record = null!;
    private string _accessToken = null!;

    /// <summary>Creates a token session in a memory store.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _manager = BenchSessions.Manager(new InMemorySessionStore(_clock), _clock);
        var pair = _manager.Tokens.CreateAsync("alice").AsTask().GetAwaiter().GetResult();
        _accessToken = pair.AccessToken;
        var now = DateTimeOffset.FromUnixTimeSeconds(_clock.GetUtcNow().ToUnixTimeSeconds());
        _record = new TokenRecord
        {
            Id = Guid.NewGuid().ToString("D"),
            SessionId = pair.SessionId,
            Kind = TokenKind.Access,
            PairedTokenId = Guid.NewGuid().ToString("D"),
            CreatedAt = now,
            ExpiresAt = now.AddMinutes(5),
        };
    }

    /// <summary>Mints an access JWT from its record.</summary>
    [Benchmark]
    public string Mint() => _manager.Tokens.Codec.Mint(_record);

    /// <summary>Validates an access JWT: form, header, signature, claims and times; no store call.</summary>
    [Benchmark]
    public TokenValidation Validate() => _manager.Tokens.Codec.Validate(_accessToken, TokenKind.Access, _clock.GetUtcNow());

    /// <summary>Validates an access JWT and loads its session (memory store).</summary>
    [Benchmark]
    public async Task<SessionRecord?> GetSession() => (await _manager.Tokens.GetAsync(_accessToken)).Value;
}
