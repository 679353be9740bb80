using System.Security.Cryptography;

namespace Tessera.Tests;

public sealed class CookieCredentialTests
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    private static readonly string KeyA = SigningKeyRing.GenerateBase64Key();
    private static readonly string KeyB = SigningKeyRing.GenerateBase64Key();

    private static CookieCredential Format(params string[] keys) => new(SigningKeyRing.FromBase64(keys));

    [Fact]
    public void AnIssuedCredentialVerifiesToTheHashTheStoreKeeps()
    {
        var format = Format(KeyA);

        var issued = format.Issue();

        Assert.Equal(CookieCredential.EncodedLength, issued.Value.Length);
        Assert.Equal('.', issued.Value[43]);
        Assert.Equal(32, issued.Hash.Length);
        Assert.Equal(CredentialRejection.None, format.Verify(issued.Value, out var hash));
        Assert.Equal(issued.Hash, hash);
    }

    [Fact]
    public void TheStoredHashIsNotTheCredentialText()
    {
        var issued = Format(KeyA).Issue();

        // The hash is SHA-256 of the random part: knowing it does not give the cookie, and the cookie is not the hash.
        Assert.NotEqual(issued.Hash, SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(issued.Value)));
        Assert.DoesNotContain(Convert.ToBase64String(issued.Hash).TrimEnd('='), issued.Value, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryIssuedCredentialIsDifferent()
    {
        var format = Format(KeyA);

        var values = Enumerable.Range(0, 100).Select(_ => format.Issue()).ToList();

        Assert.Equal(100, values.Select(v => v.Value).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(100, values.Select(v => Convert.ToBase64String(v.Hash)).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void EverySingleCharacterChangeAtEveryPositionIsRejected()
    {
        var format = Format(KeyA);
        var value = format.Issue().Value;
        var tried = 0;

        for (var position = 0; position < value.Length; position++)
        {
            foreach (var replacement in Alphabet + ".=+/ ")
            {
                if (replacement == value[position])
                {
                    continue;
                }
                var tampered = string.Concat(value.AsSpan(0, position), replacement.ToString(), value.AsSpan(position + 1));
                var rejection = format.Verify(tampered, out var hash);
                Assert.True(rejection != CredentialRejection.None, $"changing position {position} to '{replacement}' was accepted");
                Assert.Null(hash);
                tried++;
            }
        }

        Assert.True(tried > 87 * 60);
    }

    [Fact]
    public void ACredentialWhoseLastCharactersHaveUnusedBitsSetIsRejectedNotThrown()
    {
        // 32 bytes take 43 characters with 2 unused bits in the last one: 3 of every 4 characters there are
        // non-canonical. They must read as malformed, not escape as a FormatException (a 500 for a crafted cookie).
        var format = Format(KeyA);
        var value = format.Issue().Value;

        foreach (var c in Alphabet)
        {
            var tokenEnd = value[..42] + c + value[43..];
            var macEnd = value[..^1] + c;
            if (tokenEnd != value)
            {
                Assert.NotEqual(CredentialRejection.None, format.Verify(tokenEnd, out _));
            }
            if (macEnd != value)
            {
                Assert.NotEqual(CredentialRejection.None, format.Verify(macEnd, out _));
            }
        }
        var nonCanonical = (Alphabet.IndexOf(value[42], StringComparison.Ordinal) & 0b11) == 0 ? Alphabet[Alphabet.IndexOf(value[42], StringComparison.Ordinal) | 1] : value[42];
        Assert.Equal(CredentialRejection.Malformed, format.Verify(value[..42] + nonCanonical + value[43..], out _));
    }

    [Fact]
    public void ACredentialSignedByAnUnknownKeyIsRejected()
    {
        var foreign = Format(KeyB).Issue();

        Assert.Equal(CredentialRejection.BadSignature, Format(KeyA).Verify(foreign.Value, out var hash));
        Assert.Null(hash);
    }

    [Fact]
    public void ACredentialStillVerifiesAfterItsKeyIsRotatedToSecondPlace()
    {
        var issued = Format(KeyA).Issue();
        var rotated = Format(KeyB, KeyA);

        Assert.Equal(CredentialRejection.None, rotated.Verify(issued.Value, out var hash));
        Assert.Equal(issued.Hash, hash);
        // New credentials come from the new first key: the old ring alone no longer accepts them.
        Assert.Equal(CredentialRejection.BadSignature, Format(KeyA).Verify(rotated.Issue().Value, out _));
    }

    [Fact]
    public void ACredentialIsRejectedOnceItsKeyIsRemoved()
    {
        var issued = Format(KeyA).Issue();

        Assert.Equal(CredentialRejection.BadSignature, Format(KeyB).Verify(issued.Value, out var hash));
        Assert.Null(hash);
    }

    [Theory]
    [InlineData(null, CredentialRejection.Empty)]
    [InlineData("", CredentialRejection.Empty)]
    [InlineData("   ", CredentialRejection.Empty)]
    [InlineData("\t\r\n", CredentialRejection.Empty)]
    [InlineData("abc", CredentialRejection.Malformed)]
    [InlineData("abc.def", CredentialRejection.Malformed)]
    public void ShortOrEmptyCredentialsAreRejected(string? text, CredentialRejection expected)
    {
        Assert.Equal(expected, Format(KeyA).Verify(text, out var hash));
        Assert.Null(hash);
    }

    [Fact]
    public void ATenKilobyteCredentialIsRejectedAsTooLong()
    {
        var value = Format(KeyA).Issue().Value;

        Assert.Equal(CredentialRejection.TooLong, Format(KeyA).Verify(new string('A', 10 * 1024), out _));
        Assert.Equal(CredentialRejection.TooLong, Format(KeyA).Verify(value + new string('A', 10 * 1024), out _));
        Assert.Equal(CredentialRejection.TooLong, Format(KeyA).Verify(value + "A", out _));
    }

    [Fact]
    public void ACredentialOfTheRightLengthButNotBase64IsRejectedAsMalformed()
    {
        var text = new string('*', 43) + "." + new string('*', 43);

        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(text, out var hash));
        Assert.Null(hash);
    }

    [Fact]
    public void ACredentialWithStandardBase64CharactersIsRejectedAsMalformed()
    {
        var value = Format(KeyA).Issue().Value;
        var standard = value.Replace('-', '+').Replace('_', '/');
        if (standard == value)
        {
            standard = "+" + value[1..];
        }

        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(standard, out _));
    }

    [Fact]
    public void ACredentialWithNonAsciiCharactersIsRejectedAsMalformed()
    {
        var value = Format(KeyA).Issue().Value;

        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify("é" + value[1..], out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(value[..^1] + "日", out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(value[..43] + "\u2024" + value[44..], out _)); // one-dot leader
    }

    [Fact]
    public void ACredentialWithTheDotInTheWrongPlaceIsRejectedAsMalformed()
    {
        var value = Format(KeyA).Issue().Value;
        var token = value[..43];
        var mac = value[44..];

        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(token[..42] + "." + token[42] + mac, out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(token + mac[0] + "." + mac[1..], out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(token + "A" + mac, out _));
    }

    [Fact]
    public void ACredentialWithItsHalvesSwappedIsRejected()
    {
        var value = Format(KeyA).Issue().Value;

        Assert.Equal(CredentialRejection.BadSignature, Format(KeyA).Verify(value[44..] + "." + value[..43], out var hash));
        Assert.Null(hash);
    }

    [Fact]
    public void ATruncatedOrPaddedCredentialIsRejected()
    {
        var value = Format(KeyA).Issue().Value;

        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(value[..^1], out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(value[..^2] + "=", out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(value[..43], out _));
    }

    [Fact]
    public void AnIssuedCredentialDoesNotShowItsValueWhenPrinted()
    {
        var issued = Format(KeyA).Issue();

        Assert.DoesNotContain(issued.Value, issued.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(issued.Value[..10], issued.ToString(), StringComparison.Ordinal);
    }
}
