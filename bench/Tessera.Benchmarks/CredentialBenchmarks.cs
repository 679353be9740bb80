using BenchmarkDotNet.Attributes;

namespace Tessera.Benchmarks;

/// <summary>The cookie credential: issuing one (random bytes, HMAC, base64url, SHA-256) and verifying one.</summary>
[MemoryDiagnoser]
public class CredentialBenchmarks
{
    private static readonly SessionRoute Route = SessionRoute.Of(Guid.NewGuid().ToString("D"));
    private CookieCredential _credentials = null!;
    private string _presented = null!;

    /// <summary>Keys in the ring: verification tries every key, so a ring mid-rotation (2) costs one more HMAC.</summary>
    [Params(1, 2)]
    public int Keys { get; set; }

    /// <summary>Builds the ring; the presented credential is signed by its first key.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var keys = Enumerable.Range(0, Keys).Select(i => i == 0 ? BenchSessions.Key : SigningKeyRing.GenerateBase64Key());
        _credentials = new CookieCredential(SigningKeyRing.FromBase64(keys));
        _presented = _credentials.Issue(Route).Value;
    }

    /// <summary>Issues a new credential.</summary>
    [Benchmark]
    public IssuedCredential Issue() => _credentials.Issue(Route);

    /// <summary>Verifies a valid credential and computes the hash the store is asked for.</summary>
    [Benchmark]
    public byte[]? Verify()
    {
        _credentials.Verify(_presented, out var hash);
        return hash;
    }
}
