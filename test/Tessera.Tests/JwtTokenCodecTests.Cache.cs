using System.Security.Cryptography;
using Tessera.Tokens;

namespace Tessera.Tests;

// The codec remembers the access tokens it verified (TesseraTokenOptions.VerifiedTokenCacheSize): a remembered token
// must get exactly the answer a full check would give it, at any time and for either kind asked for, must be checked in
// full again once the key ring is replaced, and the cache must stay within its size.
public sealed partial class JwtTokenCodecTests
{
    private static readonly TimeSpan Skew = new TesseraTokenOptions().ClockSkew;

    // A Tessera-profile access token with an nbf claim, signed by hand: the times a remembered token must keep checking.
    private string WithNotBefore(TokenRecord record, DateTimeOffset notBefore)
    {
        var claims = TesseraClaims(record);
        claims["iat"] = record.CreatedAt.ToUnixTimeSeconds();
        claims["nbf"] = notBefore.ToUnixTimeSeconds();
        claims["exp"] = record.ExpiresAt.ToUnixTimeSeconds();
        return SignByHand(_key, TesseraHeader(), Json(claims));
    }

    private static readonly TimeSpan[] Offsets =
    [
        TimeSpan.FromHours(-1), -Skew - TimeSpan.FromSeconds(1), -Skew, TimeSpan.Zero, TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1),
        TimeSpan.FromMinutes(5) + Skew - TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5) + Skew, TimeSpan.FromHours(1),
    ];

    public static TheoryData<string> Profiles => [nameof(TokenProfile.Tessera), nameof(TokenProfile.Compas), "not before"];

    [Theory]
    [MemberData(nameof(Profiles))]
    public void ARememberedTokenGetsTheAnswerAFullCheckGivesAtEveryTimeAndForEitherKind(string profile)
    {
        var compas = profile == nameof(TokenProfile.Compas);
        void Configure(TesseraTokenOptions o) => o.Profile = compas ? TokenProfile.Compas : TokenProfile.Tessera;
        var remembering = Codec(Configure);
        var checking = Codec(o => { Configure(o); o.VerifiedTokenCacheSize = 0; });
        var record = Record(TokenKind.Access);
        var token = profile == "not before" ? WithNotBefore(record, Now + TimeSpan.FromMinutes(1)) : remembering.Mint(record);

        // Remembered once it is first accepted; from then on every answer comes from what was remembered.
        var first = remembering.Validate(token, TokenKind.Access, Now + TimeSpan.FromMinutes(1));
        Assert.Equal(TokenFailure.None, first.Failure);
        Assert.Equal(1, remembering.RememberedTokenCount);

        var answers = new List<string>();
        foreach (var offset in Offsets)
        {
            foreach (var kind in new[] { TokenKind.Access, TokenKind.Refresh })
            {
                var expected = checking.Validate(token, kind, Now + offset);
                var actual = remembering.Validate(token, kind, Now + offset);
                Assert.True(expected == actual, $"at {offset} asked for {kind}: a full check says {expected}, the remembered token {actual}");
                answers.Add(actual.Failure.ToString());
            }
        }
        Assert.Equal(0, checking.RememberedTokenCount);
        // The times above reach every answer a well-signed token can get, so the comparison covers each of them.
        Assert.Contains(nameof(TokenFailure.None), answers);
        Assert.Contains(nameof(TokenFailure.ExpiredToken), answers);
        Assert.Contains(nameof(TokenFailure.WrongTokenType), answers);
        if (!compas)
        {
            Assert.Contains(nameof(TokenFailure.InvalidToken), answers); // an iat (or nbf) more than the skew ahead
        }
    }

    [Fact]
    public void ARememberedTokenIsCheckedInFullAgainOnceTheKeyRingIsReplaced()
    {
        var ring = new SigningKeyRing([_key]);
        var codec = Codec(ring);
        var token = codec.Mint(Record(TokenKind.Access));
        Assert.Equal(TokenFailure.None, codec.Validate(token, TokenKind.Access, Now).Failure);

        // A rotation that drops the key (how a leaked key's tokens are killed at once): the token is refused.
        ring.Replace([RandomNumberGenerator.GetBytes(32)]);
        Assert.Equal(TokenFailure.InvalidToken, codec.Validate(token, TokenKind.Access, Now).Failure);

        // A rotation that keeps the key second: the token verifies again under the new ring.
        ring.Replace([RandomNumberGenerator.GetBytes(32), _key]);
        Assert.Equal(TokenFailure.None, codec.Validate(token, TokenKind.Access, Now).Failure);
    }

    [Fact]
    public void ATokenOneCharacterAwayFromARememberedOneIsCheckedInFull()
    {
        var codec = Codec();
        var token = codec.Mint(Record(TokenKind.Access));
        Assert.Equal(TokenFailure.None, codec.Validate(token, TokenKind.Access, Now).Failure);

        var accepted = new List<string>();
        for (var position = 0; position < token.Length; position++)
        {
            var replacement = token[position] == 'A' ? 'B' : 'A';
            var changed = string.Concat(token.AsSpan(0, position), [replacement], token.AsSpan(position + 1));
            if (codec.Validate(changed, TokenKind.Access, Now).Failure != TokenFailure.InvalidToken)
            {
                accepted.Add($"position {position}");
            }
        }

        Assert.Empty(accepted);
        Assert.Equal(1, codec.RememberedTokenCount);
    }

    [Fact]
    public void OnlyAccessTokensThatPassAreRemembered()
    {
        var codec = Codec();
        var access = codec.Mint(Record(TokenKind.Access));

        Assert.Equal(TokenFailure.None, codec.Validate(codec.Mint(Record(TokenKind.Refresh)), TokenKind.Refresh, Now).Failure);
        Assert.Equal(TokenFailure.InvalidToken, codec.Validate(access[..^1], TokenKind.Access, Now).Failure);
        Assert.Equal(TokenFailure.InvalidToken, Codec(new SigningKeyRing([RandomNumberGenerator.GetBytes(32)])).Validate(access, TokenKind.Access, Now).Failure);
        Assert.Equal(0, codec.RememberedTokenCount);

        // Signed and well formed, but expired when first seen: remembered all the same (its claims do not change), and
        // refused every time.
        var expired = codec.Mint(Record(TokenKind.Access, lifetime: TimeSpan.FromMinutes(1)));
        Assert.Equal(TokenFailure.ExpiredToken, codec.Validate(expired, TokenKind.Access, Now + TimeSpan.FromHours(1)).Failure);
        Assert.Equal(TokenFailure.ExpiredToken, codec.Validate(expired, TokenKind.Access, Now + TimeSpan.FromHours(1)).Failure);
        Assert.Equal(1, codec.RememberedTokenCount);
    }

    [Fact]
    public void TheCacheNeverHoldsMoreThanItsSizeAndEveryTokenStillPasses()
    {
        var codec = Codec(o => o.VerifiedTokenCacheSize = 3);
        var tokens = Enumerable.Range(0, 10).Select(_ => codec.Mint(Record(TokenKind.Access))).ToList();

        foreach (var token in tokens.Concat(tokens))
        {
            Assert.Equal(TokenFailure.None, codec.Validate(token, TokenKind.Access, Now).Failure);
            Assert.InRange(codec.RememberedTokenCount, 1, 3);
        }
    }

    [Fact]
    public void ASizeOfZeroRemembersNothing()
    {
        var codec = Codec(o => o.VerifiedTokenCacheSize = 0);
        var token = codec.Mint(Record(TokenKind.Access));

        Assert.Equal(TokenFailure.None, codec.Validate(token, TokenKind.Access, Now).Failure);
        Assert.Equal(TokenFailure.None, codec.Validate(token, TokenKind.Access, Now).Failure);
        Assert.Equal(0, codec.RememberedTokenCount);
    }
}
