using System.Security.Cryptography;
using System.Text;

namespace Tessera.Tests;

public sealed class SessionIdReferenceTests
{
    [Fact]
    public void AReferenceIsTheFirstEightHexDigitsOfTheIdsSha256AndNeverTheIdItself()
    {
        const string id = "0123456789abcdef0123456789abcdef0123456789a";

        var reference = SessionIdReference.Of(id);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)))[..8], reference);
        Assert.Equal(reference, SessionIdReference.Of(id));
        Assert.NotEqual(reference, SessionIdReference.Of(id + "b"));
        Assert.DoesNotContain(reference, id, StringComparison.Ordinal);
    }

    [Fact]
    public void ASessionNotCreatedYetIsReferencedAsNew()
    {
        Assert.Equal("(new)", SessionIdReference.Of(null));
        Assert.Equal("(new)", SessionIdReference.Of(""));
    }
}
