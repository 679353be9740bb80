using System.Text.RegularExpressions;

namespace Tessera.Tests;

public sealed partial class SessionRouteTests
{
    [GeneratedRegex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")]
    private static partial Regex UuidV4();

    [Theory]
    [InlineData("3f9a0c1e-5b7d-4e2f-a1c3-9d8e7f6a5b4c", 0x3f9a)]
    [InlineData("0000ffff-0000-4000-8000-000000000000", 0x0000)]
    [InlineData("ffff0000-0000-4000-8000-000000000000", 0xffff)]
    [InlineData("1234", 0x1234)]
    [InlineData("abcdXYZ", 0xabcd)]
    public void AnIdThatStartsWithFourHexDigitsRoutesByThem(string id, int expected)
    {
        Assert.Equal((ushort)expected, SessionRoute.Of(id).Value);
    }

    [Fact]
    public void TheHexPrefixIsReadInEitherCase()
    {
        Assert.Equal(SessionRoute.Of("abcdef00-rest"), SessionRoute.Of("ABCDEF00-REST"));
        Assert.Equal(SessionRoute.Of("aBcD"), SessionRoute.Of("AbCd"));
        Assert.Equal(0xabcd, SessionRoute.Of("ABCD").Value);
    }

    // Pinned: the hash decides where a stored session lives, so it must never change between processes or versions.
    [Theory]
    [InlineData("", "1cd9")]
    [InlineData("a", "cd20")]
    [InlineData("abc", "f34c")]
    [InlineData("xyz", "2c41")]
    [InlineData("hand-made", "fbb7")]
    [InlineData("session-1", "22a7")]
    [InlineData("Zürich", "a820")]
    [InlineData("12g4-rest", "b672")]
    [InlineData("0x12ab", "9539")]
    [InlineData(" 1234", "29f9")]
    public void AnIdWithoutAHexPrefixRoutesByItsPinnedHash(string id, string expected)
    {
        Assert.Equal(expected, SessionRoute.Of(id).ToString());
    }

    [Fact]
    public void TheRouteOfAnIdIsTheSameEveryTime()
    {
        foreach (var id in new[] { "hand-made", "Zürich", string.Empty, "3f9a0c1e-5b7d-4e2f-a1c3-9d8e7f6a5b4c", new string('x', 10_000) })
        {
            Assert.Equal(SessionRoute.Of(id), SessionRoute.Of(new string(id.AsSpan())));
        }
    }

    [Fact]
    public void ANullIdIsRefused()
    {
        Assert.Throws<ArgumentNullException>(() => SessionRoute.Of(null!));
        Assert.Throws<ArgumentNullException>(() => SessionRoute.NewTokenId(null!));
    }

    [Theory]
    [InlineData((ushort)0x0000, "0000")]
    [InlineData((ushort)0x000a, "000a")]
    [InlineData((ushort)0xabcd, "abcd")]
    [InlineData((ushort)0xffff, "ffff")]
    public void ARouteIsWrittenAsFourLowercaseHexDigits(ushort value, string expected)
    {
        Assert.Equal(expected, new SessionRoute(value).ToString());
    }

    [Theory]
    [InlineData("3f9a0c1e-5b7d-4e2f-a1c3-9d8e7f6a5b4c")]
    [InlineData("ABCD0000-0000-4000-8000-000000000000")]
    [InlineData("0000")]
    [InlineData("ffff")]
    [InlineData("hand-made")]
    [InlineData("")]
    [InlineData("Zürich")]
    public void ATokenIdCarriesItsSessionsRouteInUuidV4Form(string sessionId)
    {
        var route = SessionRoute.Of(sessionId);

        var tokenId = SessionRoute.NewTokenId(sessionId);

        Assert.Matches(UuidV4(), tokenId);
        Assert.StartsWith(route.ToString(), tokenId, StringComparison.Ordinal);
        Assert.Equal(route, SessionRoute.Of(tokenId));
    }

    [Fact]
    public void ATokenIdHasTheShapeOfASessionId()
    {
        var sessionId = SessionIds.NewId();

        Assert.Matches(UuidV4(), sessionId);
        Assert.Matches(UuidV4(), SessionRoute.NewTokenId(sessionId));
        Assert.Equal(sessionId.Length, SessionRoute.NewTokenId(sessionId).Length);
    }

    [Fact]
    public void AThousandTokenIdsForOneSessionAreDistinctAndAllCarryItsRoute()
    {
        var sessionId = SessionIds.NewId();

        var ids = Enumerable.Range(0, 1000).Select(_ => SessionRoute.NewTokenId(sessionId)).ToList();

        Assert.Equal(1000, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(ids, id => Assert.Equal(SessionRoute.Of(sessionId), SessionRoute.Of(id)));
        // The rest is random: past the route, every hex position but the fixed version digit takes several values.
        var hex = ids.Select(id => id.Replace("-", string.Empty, StringComparison.Ordinal)).ToList();
        for (var position = 4; position < 32; position++)
        {
            if (position == 12)
            {
                Assert.All(hex, h => Assert.Equal('4', h[12]));
                continue;
            }
            Assert.True(hex.Select(h => h[position]).Distinct().Count() > 1, $"hex digit {position} never changed");
        }
    }
}
