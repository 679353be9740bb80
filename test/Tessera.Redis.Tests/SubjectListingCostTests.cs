using Microsoft.Extensions.Time.Testing;
using System.Globalization;
using StackExchange.Redis;
using Tessera.Testing;

namespace Tessera.Redis.Tests;

/// <summary>
/// Listing a user's sessions costs in proportion to that user's sessions, not to the store's: Redis's own command
/// counters show the listing reads the subject's set once and one hash per session in it, whatever else is stored.
/// </summary>
public sealed class SubjectListingCostTests
{
    private const int OtherSessions = 2_000;

    // What clients send to open and keep up their connections, at any moment and for no operation: this test's own
    // INFO reads, and StackExchange.Redis's handshake (a connection that is still being set up when the listing runs:
    // CLIENT, HELLO, CONFIG, CLUSTER, ROLE, SUBSCRIBE to its tracer channel) and heartbeat (PING, ECHO), which a slow run
    // meets in the middle of the listing.
    private static readonly HashSet<string> Upkeep = new(StringComparer.Ordinal)
    {
        "info", "ping", "echo", "client", "hello", "config", "cluster", "role", "subscribe", "select",
    };

    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    [Fact]
    public async Task ListingASubjectsSessionsReadsOnlyTheSubjectsSetAndItsSessionsHashes()
    {
        // A server of its own: its command counters then count this test's commands and nobody else's.
        await using var server = await RedisServer.StartAsync();
        await using var store = new RedisSessionStore(new RedisSessionStoreOptions { ConnectionString = server.Endpoint }, _clock);
        var manager = new SessionManager(store, Microsoft.Extensions.Options.Options.Create(new TesseraOptions { Keys = { SigningKeyRing.GenerateBase64Key() } }), _clock);
        await Parallel.ForAsync(0, OtherSessions, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) => await SignInAsync(manager, $"user{i % 200}"));
        for (var i = 0; i < 3; i++)
        {
            await SignInAsync(manager, "alice");
        }
        await using var admin = await ConnectionMultiplexer.ConnectAsync(server.Endpoint + ",allowAdmin=true");

        var before = await CommandCallsAsync(admin);
        var sessions = await store.ListBySubjectAsync("alice");
        var after = await CommandCallsAsync(admin);

        Assert.Equal(3, sessions.Count);
        var ran = after.Where(c => !Upkeep.Contains(c.Key) && c.Value != before.GetValueOrDefault(c.Key))
            .ToDictionary(c => c.Key, c => c.Value - before.GetValueOrDefault(c.Key), StringComparer.Ordinal);
        Assert.Equal(1, ran.GetValueOrDefault("zrange")); // the subject's set, once
        Assert.Equal(3, ran.GetValueOrDefault("hgetall")); // one hash per session of the subject, none of the other 2,000
        Assert.Equal(["hgetall", "zrange"], ran.Keys.Order(StringComparer.Ordinal));
    }

    // Calls per command since the server started, from INFO commandstats ("cmdstat_hgetall:calls=3,usec=...").
    private static async Task<Dictionary<string, long>> CommandCallsAsync(IConnectionMultiplexer connection)
    {
        var stats = (string)(await connection.GetDatabase().ExecuteAsync("INFO", "commandstats"))!;
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in stats.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith("cmdstat_", StringComparison.Ordinal))
            {
                var name = line["cmdstat_".Length..line.IndexOf(':', StringComparison.Ordinal)];
                var count = line[(line.IndexOf("calls=", StringComparison.Ordinal) + "calls=".Length)..].Split(',')[0];
                calls[name] = long.Parse(count, CultureInfo.InvariantCulture);
            }
        }
        return calls;
    }

    // A session as a sign-in request leaves it, with a cart.
    private static async Task SignInAsync(SessionManager manager, string subject)
    {
        var session = manager.Open(null);
        session.SignIn(subject);
        session.Set("cart", new[] { 1, 2, 3 });
        await session.CommitAsync();
    }
}
