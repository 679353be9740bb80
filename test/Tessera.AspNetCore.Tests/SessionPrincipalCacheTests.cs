using System.Security.Claims;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// The stored principal's parse is shared between requests: by the string instance a store hands out (the memory store
/// hands every request the same one), then by the text. Whichever way a text is found, it reads back as itself.
/// </summary>
public sealed class SessionPrincipalCacheTests
{
    private const string Issuer = TesseraAuthenticationDefaults.AuthenticationScheme;

    [Fact]
    public void EveryTextReadsBackAsItsOwnPrincipalByItsInstanceAndByACopy()
    {
        // Many texts, each read as the same instance (the memory store's case: found by identity from its second read
        // on) and as a fresh copy of the text (Redis, PostgreSQL: found by the text), three times round.
        var texts = Enumerable.Range(0, 700).Select(i => SessionPrincipal.Write(Customer($"user-{i}"), items: null, Issuer)).ToArray();
        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < texts.Length; i++)
            {
                Assert.Equal($"user-{i}", NameOf(texts[i]));
                Assert.Equal($"user-{i}", NameOf(new string(texts[i].AsSpan())));
            }
        }
    }

    [Fact]
    public void EachReadGivesAPrincipalOfItsOwnWhenTheTextIsFoundByItsInstance()
    {
        var text = SessionPrincipal.Write(Customer("alice"), items: null, Issuer);
        var (first, _) = SessionPrincipal.Read(text, "session-1", Issuer)!.Value;
        first.Identities.First().AddClaim(new Claim("added", "by the request"));

        var (second, _) = SessionPrincipal.Read(text, "session-2", Issuer)!.Value;

        Assert.NotSame(first, second);
        Assert.Null(second.FindFirst("added"));
        Assert.Equal("session-2", second.FindFirst(TesseraAuthenticationDefaults.SessionIdClaimType)?.Value);
    }

    [Fact]
    public void ATextThatIsNotAPrincipalReadsAsNoneEveryTime()
    {
        const string notAPrincipal = "{\"ids\":42}";

        Assert.Null(SessionPrincipal.Read(notAPrincipal, "s", Issuer));
        Assert.Null(SessionPrincipal.Read(notAPrincipal, "s", Issuer));
    }

    private static string? NameOf(string text) => SessionPrincipal.Read(text, "session", Issuer)?.Principal.Identity?.Name;

    private static ClaimsPrincipal Customer(string name) => new(new ClaimsIdentity(
        [new Claim(ClaimTypes.NameIdentifier, name), new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, "customer")],
        "Test.Password"));
}
