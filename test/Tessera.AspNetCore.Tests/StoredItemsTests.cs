using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// A principal's <see cref="AuthenticationProperties.Items"/> read from its session share the parsed items until a
/// request writes: each read's items must still be its own, and behave as the dictionary a copy would be.
/// </summary>
public sealed class StoredItemsTests
{
    private const string Issuer = TesseraAuthenticationDefaults.AuthenticationScheme;

    private static readonly KeyValuePair<string, string?>[] Stored =
    [
        new(".issued", "Tue, 08 Dec 2026 01:00:00 GMT"),
        new(".persistent", ""),
        new("tenant", "north"),
        new("empty", null),
    ];

    [Fact]
    public void EveryReadOfAPrincipalHasItemsOfItsOwn()
    {
        var properties = new AuthenticationProperties { IsPersistent = true, IssuedUtc = new DateTimeOffset(2026, 12, 8, 1, 0, 0, TimeSpan.Zero) };
        properties.Items["tenant"] = "north";
        var text = SessionPrincipal.Write(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "alice")], "Test")), properties.Items, Issuer);

        var (_, first) = SessionPrincipal.Read(text, "session-1", Issuer)!.Value;
        Assert.True(first.IsPersistent);
        Assert.Equal(properties.IssuedUtc, first.IssuedUtc);
        Assert.Equal("north", first.Items["tenant"]);
        first.Items["tenant"] = "south";
        first.IsPersistent = false;
        first.Items.Remove(".issued");

        var (_, second) = SessionPrincipal.Read(text, "session-2", Issuer)!.Value;
        Assert.NotSame(first.Items, second.Items);
        Assert.Equal("north", second.Items["tenant"]);
        Assert.True(second.IsPersistent);
        Assert.Equal(properties.IssuedUtc, second.IssuedUtc);
        Assert.Equal("south", first.Items["tenant"]);
        Assert.False(first.IsPersistent);
        Assert.Null(first.IssuedUtc);
    }

    [Fact]
    public void ReadsAnswerAsTheDictionaryBeforeAnyWrite()
    {
        var items = new StoredItems(Stored);
        var copy = new Dictionary<string, string?>(Stored, StringComparer.Ordinal);

        Assert.Equal(copy.Count, items.Count);
        foreach (var key in new[] { ".issued", ".persistent", "tenant", "empty", "Tenant", "missing", "" })
        {
            Assert.Equal(copy.TryGetValue(key, out var expected), items.TryGetValue(key, out var actual));
            Assert.Equal(expected, actual);
            Assert.Equal(copy.ContainsKey(key), items.ContainsKey(key));
        }
        Assert.Equal("north", items["tenant"]);
        Assert.Null(items["empty"]);
        Assert.Throws<KeyNotFoundException>(() => items["Tenant"]);
        Assert.Throws<ArgumentNullException>(() => items.TryGetValue(null!, out _));
        Assert.Contains(new KeyValuePair<string, string?>("tenant", "north"), (ICollection<KeyValuePair<string, string?>>)items);
        Assert.DoesNotContain(new KeyValuePair<string, string?>("tenant", "south"), (ICollection<KeyValuePair<string, string?>>)items);
        Assert.Equal(copy.ToList(), items.ToList());
        Assert.Equal(copy.Keys, items.Keys);
        Assert.Equal(copy.Values, items.Values);
    }

    [Fact]
    public void WritesChangeOnlyTheRequestsItemsAndAnswerAsTheDictionary()
    {
        var stored = Stored.ToArray();
        var items = new StoredItems(stored);
        var copy = new Dictionary<string, string?>(Stored, StringComparer.Ordinal);
        void Both(Action<IDictionary<string, string?>> change)
        {
            change(items);
            change(copy);
            Assert.Equal(copy.ToList(), items.ToList());
            Assert.Equal(copy.Count, items.Count);
        }

        Both(d => d["tenant"] = "south");
        Both(d => d.Add("added", "1"));
        Both(d => Assert.True(d.Remove(".persistent")));
        Both(d => Assert.False(d.Remove("missing")));
        Both(d => Assert.Throws<ArgumentException>(() => d.Add("added", "2")));
        Both(d => ((ICollection<KeyValuePair<string, string?>>)d).Add(new("pair", "p")));
        Both(d => Assert.True(((ICollection<KeyValuePair<string, string?>>)d).Remove(new("pair", "p"))));
        var array = new KeyValuePair<string, string?>[items.Count + 1];
        ((ICollection<KeyValuePair<string, string?>>)items).CopyTo(array, 1);
        Assert.Equal(copy.ToList(), array.Skip(1).ToList());
        Assert.Throws<InvalidOperationException>(() =>
        {
            foreach (var _ in items)
            {
                items["during"] = "the enumeration";
            }
        });
        Assert.Equal(Stored, stored);

        var cleared = new StoredItems(stored);
        cleared.Clear();
        Assert.Empty(cleared);
        Assert.False(cleared.ContainsKey("tenant"));
        cleared.Add("tenant", "west");
        Assert.Equal("west", cleared["tenant"]);
        Assert.Equal(Stored, stored);
    }
}
