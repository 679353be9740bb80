using System.Buffers.Text;
using System.Security.Cryptography;

namespace Tessera.Tests;

public sealed class CookieCredentialTests
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    private static readonly string KeyA = SigningKeyRing.GenerateBase64Key();
    private static readonly string KeyB = SigningKeyRing.GenerateBase64Key();

    private static readonly SessionRoute Route = SessionRoute.Of("3f9a0c1e-5b7d-4e2f-a1c3-9d8e7f6a5b4c");

    private static CookieCredential Format(params string[] keys) => new(SigningKeyRing.FromBase64(keys));

    [Theory]
    [InlineData((ushort)0x0000)]
    [InlineData((ushort)0x0001)]
    [InlineData((ushort)0x3f9a)]
    [InlineData((ushort)0x8000)]
    [InlineData((ushort)0xffff)]
    public void ACredentialVerifiesToTheRouteItWasIssuedFor(ushort value)
    {
        var format = Format(KeyA);
        var route = new SessionRoute(value);

        var issued = format.Issue(route);

        Assert.Equal(CookieCredential.EncodedLength, issued.Value.Length);
        Assert.Equal(CredentialRejection.None, format.Verify(issued.Value, out var hash, out var read));
        Assert.Equal(route, read);
        Assert.Equal(issued.Hash, hash);
        // Big-endian in the token's first two bytes: what a store, or a reader of the format, finds there.
        var token = Base64Url.DecodeFromChars(issued.Value.AsSpan(0, 43));
        Assert.Equal(value, (ushort)((token[0] << 8) | token[1]));
    }

    [Fact]
    public void ACredentialIssuedForASessionCarriesThatSessionsRoute()
    {
        var format = Format(KeyA);
        var sessionId = "c0ffee00-1111-4222-8333-444455556666";

        Assert.Equal(CredentialRejection.None, format.Verify(format.Issue(SessionRoute.Of(sessionId)).Value, out _, out var route));

        Assert.Equal(SessionRoute.Of(sessionId), route);
        Assert.Equal("c0ff", route.ToString());
    }

    [Fact]
    public void ACredentialWhoseRouteBytesWereChangedFailsTheSignature()
    {
        var format = Format(KeyA);
        var issued = format.Issue(Route);
        var token = Base64Url.DecodeFromChars(issued.Value.AsSpan(0, 43));

        for (var position = 0; position < CookieCredential.RouteBytes; position++)
        {
            foreach (var flip in new byte[] { 0x01, 0x80, 0xFF })
            {
                var tampered = (byte[])token.Clone();
                tampered[position] ^= flip;
                var text = Base64Url.EncodeToString(tampered) + issued.Value[43..];

                Assert.Equal(CredentialRejection.BadSignature, format.Verify(text, out var hash, out var route));
                Assert.Null(hash);
                Assert.Equal(default, route);
            }
        }
    }

    [Fact]
    public void CredentialsForOneRouteDifferInTheirThirtyRandomBytes()
    {
        var format = Format(KeyA);

        var tokens = Enumerable.Range(0, 1000).Select(_ => Base64Url.DecodeFromChars(format.Issue(Route).Value.AsSpan(0, 43))).ToList();

        Assert.All(tokens, t => Assert.Equal(Route.Value, (ushort)((t[0] << 8) | t[1])));
        Assert.Equal(1000, tokens.Select(t => Convert.ToHexString(t, 2, 30)).Distinct(StringComparer.Ordinal).Count());
        // Every random byte position takes more than one value: none is left constant.
        for (var position = 2; position < CookieCredential.TokenBytes; position++)
        {
            Assert.True(tokens.Select(t => t[position]).Distinct().Count() > 1, $"byte {position} never changed");
        }
    }

    [Fact]
    public void AnIssuedCredentialVerifiesToTheHashTheStoreKeeps()
    {
        var format = Format(KeyA);

        var issued = format.Issue(Route);

        Assert.Equal(CookieCredential.EncodedLength, issued.Value.Length);
        Assert.Equal('.', issued.Value[43]);
        Assert.Equal(32, issued.Hash.Length);
        Assert.Equal(CredentialRejection.None, format.Verify(issued.Value, out var hash));
        Assert.Equal(issued.Hash, hash);
    }

    [Fact]
    public void TheStoredHashIsNotTheCredentialText()
    {
        var issued = Format(KeyA).Issue(Route);

        // The hash is SHA-256 of the random part: knowing it does not give the cookie, and the cookie is not the hash.
        Assert.NotEqual(issued.Hash, SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(issued.Value)));
        Assert.DoesNotContain(Convert.ToBase64String(issued.Hash).TrimEnd('='), issued.Value, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryIssuedCredentialIsDifferent()
    {
        var format = Format(KeyA);

        var values = Enumerable.Range(0, 100).Select(_ => format.Issue(Route)).ToList();

        Assert.Equal(100, values.Select(v => v.Value).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(100, values.Select(v => Convert.ToBase64String(v.Hash)).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void EverySingleCharacterChangeAtEveryPositionIsRejected()
    {
        var format = Format(KeyA);
        var value = format.Issue(Route).Value;
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
        var value = format.Issue(Route).Value;

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
        var foreign = Format(KeyB).Issue(Route);

        Assert.Equal(CredentialRejection.BadSignature, Format(KeyA).Verify(foreign.Value, out var hash));
        Assert.Null(hash);
    }

    [Fact]
    public void ACredentialStillVerifiesAfterItsKeyIsRotatedToSecondPlace()
    {
        var issued = Format(KeyA).Issue(Route);
        var rotated = Format(KeyB, KeyA);

        Assert.Equal(CredentialRejection.None, rotated.Verify(issued.Value, out var hash));
        Assert.Equal(issued.Hash, hash);
        // New credentials come from the new first key: the old ring alone no longer accepts them.
        Assert.Equal(CredentialRejection.BadSignature, Format(KeyA).Verify(rotated.Issue(Route).Value, out _));
    }

    [Fact]
    public void ACredentialIsRejectedOnceItsKeyIsRemoved()
    {
        var issued = Format(KeyA).Issue(Route);

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
        var value = Format(KeyA).Issue(Route).Value;

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
        var value = Format(KeyA).Issue(Route).Value;
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
        var value = Format(KeyA).Issue(Route).Value;

        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify("é" + value[1..], out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(value[..^1] + "日", out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(value[..43] + "\u2024" + value[44..], out _)); // one-dot leader
    }

    [Fact]
    public void ACredentialWithTheDotInTheWrongPlaceIsRejectedAsMalformed()
    {
        var value = Format(KeyA).Issue(Route).Value;
        var token = value[..43];
        var mac = value[44..];

        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(token[..42] + "." + token[42] + mac, out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(token + mac[0] + "." + mac[1..], out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(token + "A" + mac, out _));
    }

    [Fact]
    public void ACredentialWithItsHalvesSwappedIsRejected()
    {
        var value = Format(KeyA).Issue(Route).Value;

        Assert.Equal(CredentialRejection.BadSignature, Format(KeyA).Verify(value[44..] + "." + value[..43], out var hash));
        Assert.Null(hash);
    }

    [Fact]
    public void ATruncatedOrPaddedCredentialIsRejected()
    {
        var value = Format(KeyA).Issue(Route).Value;

        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(value[..^1], out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(value[..^2] + "=", out _));
        Assert.Equal(CredentialRejection.Malformed, Format(KeyA).Verify(value[..43], out _));
    }

    [Fact]
    public void AnIssuedCredentialDoesNotShowItsValueWhenPrinted()
    {
        var issued = Format(KeyA).Issue(Route);

        Assert.DoesNotContain(issued.Value, issued.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(issued.Value[..10], issued.ToString(), StringComparison.Ordinal);
    }
}
