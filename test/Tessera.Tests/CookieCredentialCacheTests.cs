using System.Security.Cryptography;

namespace Tessera.Tests;

// The cookie format remembers the credentials it verified (TesseraOptions.VerifiedCredentialCacheSize): a remembered
// credential must give exactly what a full check gives, a text one character away must be checked in full, a replaced
// key ring must check everything again, and the cache must stay within its size.
public sealed class CookieCredentialCacheTests
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    private static readonly byte[] KeyA = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] KeyB = RandomNumberGenerator.GetBytes(32);
    private static readonly SessionRoute Route = SessionRoute.Of("3f9a0c1e-5b7d-4e2f-a1c3-9d8e7f6a5b4c");

    [Fact]
    public void ARememberedCredentialGivesTheHashAndRouteOfAFullCheckInAnArrayOfItsOwn()
    {
        var ring = new SigningKeyRing([KeyA]);
        var remembering = new CookieCredential(ring, 16);
        var checking = new CookieCredential(ring);
        var issued = remembering.Issue(Route);

        Assert.Equal(CredentialRejection.None, remembering.Verify(issued.Value, out var first, out var firstRoute));
        Assert.Equal(1, remembering.RememberedCount);
        // A caller that changes the array it got, from the full check or from the cache, changes nothing for the next one.
        first![0] ^= 0xff;
        Assert.Equal(CredentialRejection.None, remembering.Verify(issued.Value, out var remembered, out _));
        remembered![1] ^= 0xff;
        Assert.Equal(CredentialRejection.None, remembering.Verify(issued.Value, out var again, out var againRoute));
        Assert.Equal(CredentialRejection.None, checking.Verify(issued.Value, out var full, out var fullRoute));

        Assert.Equal(issued.Hash, again);
        Assert.Equal(full, again);
        Assert.Equal(fullRoute, againRoute);
        Assert.Equal(Route, firstRoute);
        Assert.NotSame(remembered, again);
        Assert.Equal(0, checking.RememberedCount);
    }

    [Fact]
    public void EverySingleCharacterChangeOfARememberedCredentialIsStillRejected()
    {
        var format = new CookieCredential(new SigningKeyRing([KeyA]), 16);
        var value = format.Issue(Route).Value;
        Assert.Equal(CredentialRejection.None, format.Verify(value, out _));
        var accepted = new List<string>();

        for (var position = 0; position < value.Length; position++)
        {
            foreach (var replacement in Alphabet)
            {
                if (replacement == value[position])
                {
                    continue;
                }
                var tampered = string.Concat(value.AsSpan(0, position), replacement.ToString(), value.AsSpan(position + 1));
                if (format.Verify(tampered, out _) == CredentialRejection.None)
                {
                    accepted.Add($"position {position} as '{replacement}'");
                }
            }
        }

        Assert.Empty(accepted);
        Assert.Equal(1, format.RememberedCount);
    }

    [Fact]
    public void ReplacingTheKeyRingChecksARememberedCredentialAgain()
    {
        var ring = new SigningKeyRing([KeyA]);
        var format = new CookieCredential(ring, 16);
        var issued = format.Issue(Route);
        Assert.Equal(CredentialRejection.None, format.Verify(issued.Value, out _));

        // Its key dropped: refused at once, remembered or not.
        ring.Replace([KeyB]);
        Assert.Equal(CredentialRejection.BadSignature, format.Verify(issued.Value, out var dropped));
        Assert.Null(dropped);

        // A rotation that keeps its key second: verified again under the new ring, the same hash.
        ring.Replace([KeyB, KeyA]);
        Assert.Equal(CredentialRejection.None, format.Verify(issued.Value, out var kept));
        Assert.Equal(issued.Hash, kept);
    }

    [Fact]
    public void OnlyCredentialsThatPassAreRemembered()
    {
        var format = new CookieCredential(new SigningKeyRing([KeyA]), 16);
        var foreign = new CookieCredential(new SigningKeyRing([KeyB])).Issue(Route).Value;

        Assert.Equal(CredentialRejection.BadSignature, format.Verify(foreign, out _));
        Assert.Equal(CredentialRejection.BadSignature, format.Verify(foreign, out _));
        Assert.Equal(CredentialRejection.Malformed, format.Verify(new string('!', CookieCredential.EncodedLength), out _));
        Assert.Equal(CredentialRejection.Empty, format.Verify(" ", out _));

        Assert.Equal(0, format.RememberedCount);
    }

    [Fact]
    public void TheCacheNeverHoldsMoreThanItsSizeAndEveryCredentialStillPasses()
    {
        var format = new CookieCredential(new SigningKeyRing([KeyA]), 3);
        var issued = Enumerable.Range(0, 10).Select(_ => format.Issue(Route)).ToArray();

        for (var round = 0; round < 2; round++)
        {
            foreach (var credential in issued)
            {
                Assert.Equal(CredentialRejection.None, format.Verify(credential.Value, out var hash));
                Assert.Equal(credential.Hash, hash);
                Assert.InRange(format.RememberedCount, 1, 3);
            }
        }
    }

    [Fact]
    public void ASizeOfZeroRemembersNothingAndASizeOutsideTheRangeIsRefused()
    {
        var ring = new SigningKeyRing([KeyA]);
        var format = new CookieCredential(ring, 0);
        var issued = format.Issue(Route);

        Assert.Equal(CredentialRejection.None, format.Verify(issued.Value, out _));
        Assert.Equal(CredentialRejection.None, format.Verify(issued.Value, out _));
        Assert.Equal(0, format.RememberedCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CookieCredential(ring, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CookieCredential(ring, 1_000_001));
    }
}
