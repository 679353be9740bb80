namespace Tessera.Tests;

public sealed class SigningKeyRingTests
{
    private static byte[] KeyBytes(byte fill, int length = 32) => Enumerable.Repeat(fill, length).ToArray();

    [Fact]
    public void AKeyShorterThan32BytesIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new SigningKeyRing([KeyBytes(1, 31)]));

        Assert.Contains("31 bytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("32", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AShortBase64KeyIsRejectedWithoutShowingIt()
    {
        var shortKey = Convert.ToBase64String(KeyBytes(0x5A, 16)); // "WlpaWlpa..."

        var e = Assert.Throws<ArgumentException>(() => SigningKeyRing.FromBase64([SigningKeyRing.GenerateBase64Key(), shortKey]));

        Assert.Contains("#2", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(shortKey, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(shortKey[..8], e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ABadBase64KeyIsRejectedWithoutShowingIt()
    {
        const string secret = "this-is-my-secret*not*base64!!value";

        var e = Assert.Throws<ArgumentException>(() => SigningKeyRing.FromBase64([secret]));

        Assert.Contains("#1", e.Message, StringComparison.Ordinal);
        Assert.Contains("base64", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, e.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void AnEmptyKeyIsRejected(string key)
    {
        var e = Assert.Throws<ArgumentException>(() => SigningKeyRing.FromBase64([key]));

        Assert.Contains("empty", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARingWithoutKeysIsRejected()
    {
        Assert.Throws<ArgumentException>(() => new SigningKeyRing([]));
        Assert.Throws<ArgumentException>(() => SigningKeyRing.FromBase64([]));
    }

    [Fact]
    public void DuplicateKeysAreKeptOnceAndTheFirstStillSigns()
    {
        var first = KeyBytes(1);
        var second = KeyBytes(2);

        var ring = new SigningKeyRing([first, second, (byte[])first.Clone(), second]);

        Assert.Equal(2, ring.Keys.Count);
        Assert.Equal(new SigningKeyRing([first]).Current.Id, ring.Current.Id);
        Assert.Equal(new SigningKeyRing([second]).Current.Id, ring.Keys[1].Id);
    }

    [Fact]
    public void FromBase64AcceptsUrlSafeAndUnpaddedKeys()
    {
        // 0xFB 0xFF encodes to "+/" in standard base64 and "-_" in base64url; 32 bytes need one '=' of padding.
        var bytes = Enumerable.Range(0, 32).Select(i => (byte)(i % 2 == 0 ? 0xFB : 0xFF)).ToArray();
        var standard = Convert.ToBase64String(bytes);
        Assert.Contains('+', standard);
        Assert.Contains('/', standard);
        Assert.EndsWith("=", standard, StringComparison.Ordinal);
        var urlSafeUnpadded = standard.TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var expectedId = new SigningKeyRing([bytes]).Current.Id;

        Assert.Equal(expectedId, SigningKeyRing.FromBase64([standard]).Current.Id);
        Assert.Equal(expectedId, SigningKeyRing.FromBase64([standard.TrimEnd('=')]).Current.Id);
        Assert.Equal(expectedId, SigningKeyRing.FromBase64([urlSafeUnpadded]).Current.Id);
        Assert.Equal(expectedId, SigningKeyRing.FromBase64([urlSafeUnpadded + "="]).Current.Id);
        Assert.Equal(expectedId, SigningKeyRing.FromBase64(["  " + standard + "\n"]).Current.Id);
    }

    [Fact]
    public void GeneratedKeysAre32RandomBytesThatMakeAValidRing()
    {
        var a = SigningKeyRing.GenerateBase64Key();
        var b = SigningKeyRing.GenerateBase64Key();

        Assert.Equal(32, Convert.FromBase64String(a).Length);
        Assert.NotEqual(a, b);
        Assert.Equal(2, SigningKeyRing.FromBase64([a, b]).Keys.Count);
    }

    [Fact]
    public void KeysAreFoundByIdAndTheIdRevealsNoKeyMaterial()
    {
        var key = SigningKeyRing.GenerateBase64Key();
        var ring = SigningKeyRing.FromBase64([key, SigningKeyRing.GenerateBase64Key()]);

        Assert.Same(ring.Keys[1], ring.Find(ring.Keys[1].Id));
        Assert.Null(ring.Find("unknown"));
        Assert.Equal(8, ring.Current.Id.Length);
        Assert.DoesNotContain(key[..8], ring.Current.ToString(), StringComparison.Ordinal);
        Assert.Contains(ring.Current.Id, ring.Current.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ChangingTheCallersArrayAfterwardsDoesNotChangeTheKey()
    {
        var bytes = KeyBytes(7);
        var ring = new SigningKeyRing([bytes]);
        var credential = new CookieCredential(ring).Issue(SessionRoute.Of("any-session"));

        Array.Fill(bytes, (byte)0);

        Assert.Equal(CredentialRejection.None, new CookieCredential(ring).Verify(credential.Value, out _));
    }
}
