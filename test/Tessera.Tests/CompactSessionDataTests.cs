using System.Text.Json;

namespace Tessera.Tests;

/// <summary>The memory store's read-only session data: dictionary semantics on both sides of its linear-array limit.</summary>
public sealed class CompactSessionDataTests
{
    private static Dictionary<string, string> Pairs(int count, string prefix = "k") =>
        Enumerable.Range(0, count).ToDictionary(i => $"{prefix}{i}", i => i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparer.Ordinal);

    private static void AssertSame(IReadOnlyDictionary<string, string> expected, IReadOnlyDictionary<string, string> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.OrderBy(p => p.Key, StringComparer.Ordinal), actual.OrderBy(p => p.Key, StringComparer.Ordinal));
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(expected.Values.Order(StringComparer.Ordinal), actual.Values.Order(StringComparer.Ordinal));
        foreach (var (key, value) in expected)
        {
            Assert.True(actual.ContainsKey(key));
            Assert.Equal(value, actual[key]);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(CompactSessionData.MaxLinear)]
    [InlineData(CompactSessionData.MaxLinear + 1)]
    [InlineData(40)]
    public void ACopyHoldsTheSameEntriesAndReadsLikeADictionary(int count)
    {
        var source = Pairs(count);

        var data = CompactSessionData.From(source);

        AssertSame(source, data);
        Assert.False(data.ContainsKey("missing"));
        Assert.False(data.TryGetValue("missing", out _));
        Assert.Throws<KeyNotFoundException>(() => data["missing"]);
        Assert.False(data.ContainsKey("K0"), "keys compare ordinally");
        Assert.Same(data, CompactSessionData.From(data)); // immutable, so shared rather than copied
    }

    [Fact]
    public void EmptyDataIsTheSharedEmptyInstance()
    {
        Assert.Same(SessionRecord.EmptyData, CompactSessionData.From(new Dictionary<string, string>()));
        Assert.Same(SessionRecord.EmptyData, CompactSessionData.Apply(CompactSessionData.From(Pairs(3)), new SessionPatch { ClearData = true }));
        Assert.Same(SessionRecord.EmptyData, CompactSessionData.Apply(CompactSessionData.From(Pairs(1)), new SessionPatch { Removed = ["k0"] }));
    }

    [Fact]
    public void ACopyDoesNotFollowLaterChangesToItsSource()
    {
        var source = Pairs(2);
        var data = CompactSessionData.From(source);

        source["k0"] = "changed";
        source["new"] = "1";

        Assert.Equal("0", data["k0"]);
        Assert.Equal(2, data.Count);
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(7, 1)]
    [InlineData(7, 3)]
    [InlineData(12, 2)]
    public void APatchClearsThenRemovesThenSetsOnEitherSideOfTheLimit(int stored, int added)
    {
        var current = CompactSessionData.From(Pairs(stored));
        var set = Pairs(added, "new");
        set["k1"] = "overwritten";
        var patch = new SessionPatch { Removed = ["k0", "not-there"], Set = set };

        var after = CompactSessionData.Apply(current, patch);

        var expected = Pairs(stored);
        expected.Remove("k0");
        foreach (var (key, value) in set)
        {
            expected[key] = value;
        }
        AssertSame(expected, after);
        AssertSame(Pairs(stored), current); // the stored data is never changed in place
    }

    [Fact]
    public void DataShrinksBackBelowTheLimitAndKeysDifferingInCaseStayApart()
    {
        var large = CompactSessionData.From(Pairs(CompactSessionData.MaxLinear + 2));

        var small = CompactSessionData.Apply(large, new SessionPatch { Removed = ["k0", "k1", "k2"], Set = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["A"] = "1" } });
        var both = CompactSessionData.Apply(small, new SessionPatch { Set = new Dictionary<string, string>(StringComparer.Ordinal) { ["a"] = "2" } });

        Assert.Equal(CompactSessionData.MaxLinear, small.Count);
        Assert.Equal("1", both["A"]);
        Assert.Equal("2", both["a"]);
        Assert.Equal(CompactSessionData.MaxLinear + 1, both.Count);

        var tiny = CompactSessionData.Apply(
            CompactSessionData.From(new Dictionary<string, string>(StringComparer.Ordinal) { ["A"] = "1" }),
            new SessionPatch { Set = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["a"] = "2" } });
        Assert.Equal(2, tiny.Count);
        Assert.Equal("1", tiny["A"]);
    }

    [Fact]
    public void APatchThatChangesNoDataKeepsTheSameInstance()
    {
        var current = CompactSessionData.From(Pairs(3));

        Assert.Same(current, CompactSessionData.Apply(current, new SessionPatch { SubjectChanged = true, Subject = "alice" }));
    }

    [Fact]
    public void DataSerializesToJsonLikeADictionary()
    {
        var source = new Dictionary<string, string>(StringComparer.Ordinal) { ["cart"] = "[1,2]", ["name"] = "\"Zoë\"" };
        var record = new SessionRecord
        {
            Id = "id",
            CredentialHash = new byte[32],
            Data = CompactSessionData.From(source),
            CreatedAt = DateTimeOffset.UnixEpoch,
            LastSeenAt = DateTimeOffset.UnixEpoch,
            IdleExpiresAt = DateTimeOffset.UnixEpoch,
            AbsoluteExpiresAt = DateTimeOffset.UnixEpoch,
        };

        Assert.Equal(JsonSerializer.Serialize(record with { Data = source }), JsonSerializer.Serialize(record));
    }
}
