using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Tessera.AspNetCore.Tests;

/// <summary>How the cookie transport picks the credential out of the Cookie headers (the parser alone; the hostile-input suite drives it over HTTP).</summary>
public sealed class CookieReadingTests
{
    private readonly CookieSessionTransport _transport = new(Options.Create(new TesseraCookieOptions { Name = "__Host-tessera" }));

    [Theory]
    [InlineData(new[] { "__Host-tessera=abc.def" }, "abc.def")]
    [InlineData(new[] { "other=1; __Host-tessera=abc.def; more=2" }, "abc.def")]
    [InlineData(new[] { "__Host-tessera=abc.def ;x=1" }, "abc.def")]
    [InlineData(new[] { "x=__Host-tessera=abc" }, null)]
    [InlineData(new[] { "__HOST-TESSERA=abc.def" }, null)]
    [InlineData(new[] { "__Host-tessera%3Dabc" }, null)]
    [InlineData(new[] { "__Host-tessera=" }, null)]
    [InlineData(new[] { "__Host-tessera=abc.def; __Host-tessera=" }, "abc.def")]
    [InlineData(new[] { "__Host-tessera=abc.def; __Host-tessera=abc.def" }, "abc.def")]
    [InlineData(new[] { "__Host-tessera=abc.def; __Host-tessera=xyz.uvw" }, CookieSessionTransport.AmbiguousCredential)]
    [InlineData(new[] { "__Host-tessera=abc.def", "__Host-tessera=xyz.uvw" }, CookieSessionTransport.AmbiguousCredential)]
    [InlineData(new[] { "a=1", "__Host-tessera=abc.def" }, "abc.def")]
    [InlineData(new[] { "__Host-tessera=%61bc.def" }, "%61bc.def")]
    [InlineData(new[] { "__Host-tessera=\"abc.def\"" }, "\"abc.def\"")]
    public void TheCookieIsReadExactlyAndADuplicateWithAnotherValueIsAmbiguous(string[] headers, string? expected)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = headers;

        Assert.Equal(expected, _transport.ReadCredential(context));
    }

    [Fact]
    public void TheAmbiguousMarkerIsNeverAValidCredential()
    {
        var ring = SigningKeyRing.FromBase64([SigningKeyRing.GenerateBase64Key()]);

        Assert.NotEqual(CredentialRejection.None, new CookieCredential(ring).Verify(CookieSessionTransport.AmbiguousCredential, out _));
    }
}
