using System.Text;

namespace Tessera.Tests;

// Base64UrlText decodes every credential and token a request presents, so it is checked against a plain reference
// (Convert's padded base64, the alphabet translated) on every length up to past the widest vector the search uses.
public sealed class Base64UrlTextTests
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    public static TheoryData<int> Lengths() => [.. Enumerable.Range(0, 80)];

    // The reference: unpadded base64url is canonical when it uses the alphabet only, has a possible length, and is what
    // encoding its own bytes gives back.
    private static byte[]? Reference(string text)
    {
        if (text.Length % 4 == 1 || text.Any(c => !Alphabet.Contains(c)))
        {
            return null;
        }
        var padded = text.Replace('-', '+').Replace('_', '/') + new string('=', (4 - text.Length % 4) % 4);
        var bytes = Convert.FromBase64String(padded);
        return Base64UrlText.Encode(bytes) == text ? bytes : null;
    }

    private static byte[]? Decode(string text)
    {
        var destination = new byte[text.Length];
        return Base64UrlText.TryDecode(text, destination, out var written) ? destination[..written] : null;
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void EveryEncodingDecodesToItsBytes(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        var text = Base64UrlText.Encode(bytes);

        Assert.Equal(bytes, Decode(text));
        var exact = new byte[length];
        Assert.True(Base64UrlText.TryDecodeExact(text, exact));
        Assert.Equal(bytes, exact);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void EveryLastCharacterIsAcceptedExactlyWhenItIsCanonical(int length)
    {
        var bytes = new byte[length + 1];
        new Random(length).NextBytes(bytes);
        var text = Base64UrlText.Encode(bytes);
        var accepted = 0;

        foreach (var last in Alphabet)
        {
            var candidate = text[..^1] + last;
            var expected = Reference(candidate);
            Assert.Equal(expected, Decode(candidate));
            Assert.Equal(expected is not null, Base64UrlText.TryDecodeExact(candidate, new byte[bytes.Length]));
            accepted += expected is null ? 0 : 1;
        }

        // 4n + 2 characters leave 4 bits unused and 4n + 3 leave 2: 4 or 16 of the 64 characters end a canonical text.
        Assert.Equal((text.Length % 4) switch { 2 => 4, 3 => 16, _ => 64 }, accepted);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void ACharacterOutsideTheAlphabetAnywhereIsRefused(int length)
    {
        var bytes = new byte[length + 3];
        new Random(length).NextBytes(bytes);
        var text = Base64UrlText.Encode(bytes);

        foreach (var position in new[] { 0, text.Length / 2, text.Length - 1 }.Distinct())
        {
            foreach (var stray in " \t\n\0=+/.~é\u0100\uFF21")
            {
                var candidate = new StringBuilder(text) { [position] = stray }.ToString();
                Assert.Null(Decode(candidate));
                Assert.False(Base64UrlText.TryDecodeExact(candidate, new byte[bytes.Length]));
            }
        }
    }

    [Fact]
    public void PaddingImpossibleLengthsAndShortDestinationsAreRefused()
    {
        Assert.Null(Decode("QQ=="));
        Assert.Null(Decode("QUJD="));
        Assert.Null(Decode("QUJDR"));
        Assert.Equal(Array.Empty<byte>(), Decode(""));

        Assert.False(Base64UrlText.TryDecode("QUJD", new byte[2], out _));
        Assert.False(Base64UrlText.TryDecodeExact("QUJD", new byte[2]));
        Assert.False(Base64UrlText.TryDecodeExact("QUJD", new byte[4]));
        Assert.True(Base64UrlText.TryDecodeExact("QUJD", new byte[3]));
    }
}
