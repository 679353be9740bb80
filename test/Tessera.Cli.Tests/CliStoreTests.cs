using System.Security.Cryptography;
using System.Text.Json;

namespace Tessera.Cli.Tests;

/// <summary>
/// Every store command end to end against one store kind: sessions are seeded through the store's own API, then the
/// tool (in process, console captured) reads and changes them.
/// </summary>
public abstract class CliStoreTests : IAsyncLifetime
{
    /// <summary>The store URL the tool gets (a fresh, empty store per test class instance).</summary>
    protected abstract string StoreUrl { get; }

    /// <summary>The arguments that name the store: <c>--store</c> and <see cref="StoreUrl"/>, and whatever else the kind needs.</summary>
    protected virtual IEnumerable<string> StoreArguments => ["--store", StoreUrl];

    /// <summary>Opens the same store through its API, to seed and check.</summary>
    protected abstract Task<ISessionStore> OpenStoreAsync();

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    protected Task<CliResult> Run(params string[] args) => Cli.RunAsync([.. StoreArguments, .. args]);

    [Fact]
    public async Task MigrateSucceedsAndCanRunTwice()
    {
        var first = await Run("migrate");
        var second = await Run("migrate", "--json");

        Assert.True(first.ExitCode == 0, first.All);
        Assert.False(string.IsNullOrWhiteSpace(second.Json().GetProperty("message").GetString()));
    }

    [Fact]
    public async Task StatsCountLiveExpiredAndRevokedSessions()
    {
        var seeded = await SeedAsync();

        var stats = (await Run("stats", "--json")).Json();
        var table = await Run("stats");

        Assert.Equal(2, stats.GetProperty("live").GetInt64());
        Assert.Equal(1, stats.GetProperty("expired").GetInt64());
        Assert.Equal(1, stats.GetProperty("revoked").GetInt64());
        Assert.Equal(4, stats.GetProperty("total").GetInt64());
        Assert.Equal(JsonValueKind.String, stats.GetProperty("sizeDescription").ValueKind);
        Assert.Equal(0, table.ExitCode);
        Assert.Contains("revoked", table.Output, StringComparison.Ordinal);
        Assert.NotEmpty(seeded.Live);
    }

    [Fact]
    public async Task ListFiltersByUserAndState()
    {
        var seeded = await SeedAsync();

        var all = (await Run("list", "--json")).Json();
        var alice = (await Run("list", "--user", "alice", "--json")).Json();
        var live = (await Run("list", "--state", "live", "--json")).Json();
        var limited = (await Run("list", "--limit", "1", "--json")).Json();
        var table = await Run("list", "--user", "alice");

        Assert.Equal(4, all.GetProperty("count").GetInt32());
        Assert.Equal(
            seeded.Alice.Order(StringComparer.Ordinal),
            alice.GetProperty("sessions").EnumerateArray().Select(s => s.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));
        Assert.All(live.GetProperty("sessions").EnumerateArray(), s => Assert.Equal("live", s.GetProperty("state").GetString()));
        Assert.Equal(2, live.GetProperty("count").GetInt32());
        Assert.Equal(1, limited.GetProperty("count").GetInt32());
        Assert.True(limited.GetProperty("truncated").GetBoolean());
        Assert.Equal(0, table.ExitCode);
        Assert.Contains(seeded.Alice[0], table.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-h")]
    [InlineData("-?")]
    [InlineData("-v")]
    [InlineData("-n")]
    [InlineData("-u")]
    public async Task AnIdThatStartsWithADashIsAnIdNotABundleOfOptions(string start)
    {
        // Ids are the store's strings: a base64url id starts with a dash one time in 64. Without POSIX bundling it is
        // looked up, not read as "-h" (help, exit 0) followed by other letters.
        var id = start + "Q3xZ_" + Guid.NewGuid().ToString("N");

        var show = await Run("show", id, "--json");
        var revoke = await Run("revoke", id, "--json");

        Assert.True(show.ExitCode == 2, show.All);
        Assert.Contains($"No session with id '{id}'", show.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Description:", show.All, StringComparison.Ordinal);
        Assert.True(revoke.ExitCode == 2, revoke.All);
        Assert.DoesNotContain("Description:", revoke.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShowPrintsASessionButOnlyAShortPrefixOfItsCredentialHash()
    {
        var seeded = await SeedAsync();
        var record = seeded.Records[seeded.Live[0]];
        var fullHash = Convert.ToHexStringLower(record.CredentialHash);

        var json = await Run("show", record.Id, "--json");
        var table = await Run("show", record.Id);
        var revoked = (await Run("show", seeded.Revoked, "--json")).Json();
        var missing = await Run("show", "no-such-session");

        var shown = json.Json();
        Assert.Equal(record.Id, shown.GetProperty("id").GetString());
        Assert.Equal("live", shown.GetProperty("state").GetString());
        Assert.Equal(42, shown.GetProperty("data").GetProperty("count").GetInt32());
        var prefix = shown.GetProperty("credentialHashPrefix").GetString()!;
        Assert.True(prefix.Length <= 8 && fullHash.StartsWith(prefix, StringComparison.Ordinal));
        Assert.DoesNotContain(fullHash, json.All, StringComparison.Ordinal);
        Assert.DoesNotContain(fullHash, table.All, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(record.CredentialHash), table.All, StringComparison.Ordinal);
        Assert.Equal("revoked", revoked.GetProperty("state").GetString());
        Assert.Equal(2, missing.ExitCode);
    }

    [Fact]
    public async Task RevokeEndsOneSessionOrEveryLiveSessionOfAUser()
    {
        var seeded = await SeedAsync();
        var store = await OpenStoreAsync();

        var one = await Run("revoke", seeded.Live[0], "--json");
        var again = await Run("revoke", seeded.Live[0]);
        var user = (await Run("revoke", "--user", "bob", "--json")).Json();
        var neither = await Run("revoke");

        Assert.Equal(1, one.Json().GetProperty("revoked").GetInt32());
        Assert.Null(await store.LoadAsync(seeded.Live[0]));
        Assert.Equal(2, again.ExitCode);
        Assert.Equal(1, user.GetProperty("revoked").GetInt32());
        Assert.Null(await store.LoadAsync(seeded.Live[1]));
        Assert.Equal(1, neither.ExitCode);
        Assert.Equal(3, (await Run("stats", "--json")).Json().GetProperty("revoked").GetInt64());
    }

    [Fact]
    public async Task GcDryRunOnlyCountsAndGcDeletesExpiredSessions()
    {
        await SeedAsync();

        var dry = (await Run("gc", "--dry-run", "--json")).Json();
        var statsAfterDry = (await Run("stats", "--json")).Json();
        var gc = (await Run("gc", "--json")).Json();
        var statsAfterGc = (await Run("stats", "--json")).Json();

        Assert.Equal(1, dry.GetProperty("expired").GetInt64());
        Assert.Equal(1, statsAfterDry.GetProperty("expired").GetInt64());
        Assert.Equal(1, gc.GetProperty("deleted").GetInt64());
        Assert.Equal(0, statsAfterGc.GetProperty("expired").GetInt64());
        Assert.Equal(2, statsAfterGc.GetProperty("live").GetInt64());
    }

    [Fact]
    public async Task ClearRefusesWithoutForceAndDeletesEverythingWithIt()
    {
        await SeedAsync();

        var refused = await Run("clear");
        var stillThere = (await Run("stats", "--json")).Json();
        var cleared = (await Run("clear", "--force", "--json")).Json();
        var after = (await Run("stats", "--json")).Json();

        Assert.Equal(4, refused.ExitCode);
        Assert.Contains("--force", refused.Error, StringComparison.Ordinal);
        Assert.Equal(4, stillThere.GetProperty("total").GetInt64());
        Assert.Equal(4, cleared.GetProperty("deleted").GetInt64());
        Assert.Equal(0, after.GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task ListAndShowPrintControlCharactersOfStoredFieldsAsVisibleEscapesAndJsonKeepsThemExact()
    {
        // What a hostile client can store: a User-Agent that retitles the operator's terminal and clears it, and a
        // subject and label (application-chosen, often from user input) with a colour code and a bidi override.
        const string userAgent = "Evil\u001b]0;pwned\u0007Agent\u001b[2J";
        const string subject = "mallory\u001b[31m";
        const string label = "label\u202Eevil\u009b";
        var store = await OpenStoreAsync();
        var now = DateTimeOffset.UtcNow;
        var record = new SessionRecord
        {
            Id = "hostile-" + Guid.NewGuid().ToString("N"),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            Subject = subject,
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now + TimeSpan.FromHours(1),
            AbsoluteExpiresAt = now + TimeSpan.FromHours(8),
            Metadata = new SessionMetadata(userAgent, "203.0.113.7", label),
        };
        Assert.True(await store.CreateAsync(record));

        var list = await Run("list");
        var show = await Run("show", record.Id);
        var json = (await Run("show", record.Id, "--json")).Json();
        var listJson = (await Run("list", "--json")).Json();

        foreach (var printed in new[] { list, show })
        {
            Assert.Equal(0, printed.ExitCode);
            Assert.DoesNotContain('\u001b', printed.All);
            Assert.DoesNotContain('\u0007', printed.All);
            Assert.DoesNotContain('\u009b', printed.All);
            Assert.DoesNotContain('\u202E', printed.All);
            Assert.Contains(@"Evil\x1B]0;pwned\x07Agent\x1B[2J", printed.Output, StringComparison.Ordinal);
            Assert.Contains(@"mallory\x1B[31m", printed.Output, StringComparison.Ordinal);
        }
        Assert.Contains(@"label\u202Eevil\x9B", show.Output, StringComparison.Ordinal);
        Assert.Equal(userAgent, json.GetProperty("userAgent").GetString());
        Assert.Equal(subject, json.GetProperty("subject").GetString());
        Assert.Equal(label, json.GetProperty("label").GetString());
        Assert.Equal(userAgent, listJson.GetProperty("sessions").EnumerateArray().Single(s => s.GetProperty("id").GetString() == record.Id).GetProperty("userAgent").GetString());
    }

    /// <summary>Two live sessions (alice, bob), one expired (alice), one revoked (anonymous).</summary>
    protected async Task<Seeded> SeedAsync()
    {
        var store = await OpenStoreAsync();
        var now = DateTimeOffset.UtcNow;
        SessionRecord Record(string? subject, DateTimeOffset created, TimeSpan idle) => new()
        {
            Id = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_'),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            Subject = subject,
            Data = new Dictionary<string, string>(StringComparer.Ordinal) { ["count"] = "42" },
            CreatedAt = created,
            LastSeenAt = created,
            IdleExpiresAt = created + idle,
            AbsoluteExpiresAt = created + TimeSpan.FromHours(8),
            Metadata = new SessionMetadata("TestAgent/1.0", "203.0.113.7", null),
        };
        var alice = Record("alice", now, TimeSpan.FromHours(1));
        var bob = Record("bob", now, TimeSpan.FromHours(1));
        var expired = Record("alice", now - TimeSpan.FromHours(3), TimeSpan.FromHours(1));
        var revoked = Record(null, now, TimeSpan.FromHours(1));
        foreach (var record in new[] { alice, bob, expired, revoked })
        {
            Assert.True(await store.CreateAsync(record));
        }
        Assert.True(await store.RevokeAsync(revoked.Id, now));
        return new Seeded(
            [alice.Id, bob.Id],
            [alice.Id, expired.Id],
            revoked.Id,
            new Dictionary<string, SessionRecord> { [alice.Id] = alice, [bob.Id] = bob, [expired.Id] = expired, [revoked.Id] = revoked });
    }

    protected sealed record Seeded(string[] Live, string[] Alice, string Revoked, Dictionary<string, SessionRecord> Records);
}
