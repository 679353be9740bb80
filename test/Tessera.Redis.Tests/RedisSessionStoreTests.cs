using Microsoft.Extensions.Time.Testing;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Tessera.Testing;
using Tessera.Tokens;

namespace Tessera.Redis.Tests;

/// <summary>What the conformance suites cannot see: the key layout, Redis's own expiry, restarts, commands sent.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionStoreTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly string _prefix = "tessera-test-" + Guid.NewGuid().ToString("N");

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await RedisTestStores.DeleteKeysAsync(await RedisTestStores.ConnectionAsync(redis), _prefix);

    [Fact]
    public async Task EveryKeyOfASessionCarriesItsBucketsHashTagAndMetadataNeverClashesWithData()
    {
        var connection = await RedisTestStores.ConnectionAsync(redis);
        var store = new RedisSessionStore(connection, new() { KeyPrefix = _prefix }, _clock);
        var record = NewRecord(subject: "alice", data: new Dictionary<string, string> { ["m:sub"] = "\"a data key that looks like metadata\"", ["cart"] = "[1,2]" });
        Assert.True(await store.CreateAsync(record));
        var (access, refresh) = NewPair(record.Id);
        Assert.True(await store.CreateTokensAsync(access, refresh));

        var keys = await RedisTestStores.KeysAsync(connection, _prefix);

        var hex = Convert.ToHexStringLower(record.CredentialHash);
        var bucket = store.Base(SessionRoute.Of(record.Id));
        Assert.Matches(@"^.*:\{b[0-9a-f]{3}\}$", bucket);
        Assert.Equal(
            new[]
            {
                $"{bucket}:a", $"{bucket}:c:{hex}", $"{bucket}:k:{access.Id}", $"{bucket}:k:{refresh.Id}",
                $"{bucket}:s:{record.Id}", $"{bucket}:t:{record.Id}", $"{bucket}:x", $"{_prefix}:u:{{alice}}",
            }.Order(StringComparer.Ordinal),
            keys.Order(StringComparer.Ordinal));
        var fields = (await connection.GetDatabase().HashKeysAsync($"{bucket}:s:{record.Id}")).Select(f => (string)f!).ToList();
        Assert.Contains("d:m:sub", fields);
        Assert.Contains("d:cart", fields);
        Assert.Contains("m:sub", fields);
        Assert.All(fields, f => Assert.True(f.StartsWith("d:", StringComparison.Ordinal) || f.StartsWith("m:", StringComparison.Ordinal), f));
        var loaded = await store.LoadAsync(record.Id);
        Assert.Equal("alice", loaded!.Subject);
        Assert.Equal("\"a data key that looks like metadata\"", loaded.Data["m:sub"]);
    }

    [Fact]
    public async Task DataValuesRoundTripAsTheExactTextGivenThroughEveryKindOfRead()
    {
        // A load by id reads the hash as an array; the credential and access-token lookups read it packed into one
        // MessagePack string by Redis's cmsgpack: values holding colons and digits, empty ones, multi-byte characters
        // and values of every string header size must come back exact either way.
        var store = new RedisSessionStore(await RedisTestStores.ConnectionAsync(redis), new() { KeyPrefix = _prefix }, _clock);
        const string Spaced = "{ \"b\" : 1 ,\n  \"a\" : [ 1.50, \"\\u00e9 🦊\" ] }";
        var data = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["x"] = Spaced,
            ["12:34"] = "5:abc:6:",
            ["é🦊"] = "",
            ["0"] = "0:",
            // Long enough for each of MessagePack's string headers (str 8, 16 and 32) in what Redis's cmsgpack writes.
            ["medium"] = new string('m', 200),
            ["long"] = new string('l', 300),
            ["huge"] = new string('h', 70_000),
            // StackExchange.Redis keeps a reply that reads as a canonical integer as a number: only those may be read
            // as numbers, and every text must come back as it was written, digits and signs included.
            ["int"] = "42",
            ["negative"] = "-7",
            ["padded"] = "007",
            ["max"] = "9223372036854775807",
            ["beyond"] = "9223372036854775808",
            ["minus-zero"] = "-0",
            ["plus"] = "+1",
            ["decimal"] = "1.50",
            ["exponent"] = "1e3",
        };
        var record = NewRecord(subject: "ünï:3", data: data) with { Metadata = new SessionMetadata("agent/1.0 (x:1)", "::1", "Zoë's phone") };
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = new Dictionary<string, string> { ["y"] = "  42 " } }));
        var (access, refresh) = NewPair(record.Id);
        Assert.True(await store.CreateTokensAsync(access, refresh));
        var expected = new Dictionary<string, string>(data, StringComparer.Ordinal) { ["y"] = "  42 " };

        var byId = await store.LoadAsync(record.Id);
        var byCredential = await store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id));
        // The second read of a credential is the remembered session's HGETALL, not the lookup script.
        var byCredentialAgain = await store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id));
        var byToken = await store.LoadTokenAsync(access.Id);

        Assert.Equal(1, store.RememberedCredentialReads);
        Assert.Equal(access.Id, byToken?.Token.Id);
        foreach (var loaded in new[] { byId, byCredential, byCredentialAgain, byToken?.Session })
        {
            Assert.NotNull(loaded);
            Assert.Equal(record.Id, loaded.Id);
            Assert.Equal(expected, loaded.Data);
            Assert.Equal("ünï:3", loaded.Subject);
            Assert.Equal(record.Metadata, loaded.Metadata);
            Assert.Equal(record.CredentialHash, loaded.CredentialHash);
            Assert.Equal(record.AbsoluteExpiresAt, loaded.AbsoluteExpiresAt);
        }
        // A subject that reads as a number stays the text it was.
        var numbered = NewRecord(subject: "0012345");
        Assert.True(await store.CreateAsync(numbered));
        Assert.Equal("0012345", (await store.LoadAsync(numbered.Id))?.Subject);
        var counted = NewRecord(subject: "12345");
        Assert.True(await store.CreateAsync(counted));
        Assert.Equal("12345", (await store.LoadAsync(counted.Id))?.Subject);
    }

    [Theory]
    [InlineData(-30 * 365)] // the store's clock decades behind Redis's: absolute times would already be past
    [InlineData(30 * 365)]  // and decades ahead
    public async Task RedisExpiryFollowsTheRemainingLifetimeNotTheStoresWallClock(int days)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(days));
        var connection = await RedisTestStores.ConnectionAsync(redis);
        var store = new RedisSessionStore(connection, new() { KeyPrefix = _prefix, ExpiryMargin = TimeSpan.FromMinutes(10) }, clock);
        var record = NewRecord(clock);
        Assert.True(await store.CreateAsync(record));
        var (access, refresh) = NewPair(record.Id, clock);
        Assert.True(await store.CreateTokensAsync(access, refresh));

        // The store works in whole Unix milliseconds, so the expectation does too: an unrounded clock would put the
        // upper bound a fraction of a millisecond below a TTL that Redis reports before a millisecond has passed.
        var expected = record.AbsoluteExpiresAt.ToUnixTimeMilliseconds() - clock.GetUtcNow().ToUnixTimeMilliseconds()
            + (long)TimeSpan.FromMinutes(10).TotalMilliseconds;
        foreach (var key in await RedisTestStores.KeysAsync(connection, _prefix))
        {
            var ttl = (long)await connection.GetDatabase().ExecuteAsync("PTTL", [(RedisKey)key]);
            if (key.EndsWith(":x", StringComparison.Ordinal) || key.EndsWith(":a", StringComparison.Ordinal) || key.EndsWith(":n", StringComparison.Ordinal))
            {
                Assert.Equal(-1, ttl); // indexes: kept small by cleanup, never expired by Redis
                continue;
            }
            Assert.InRange(ttl, expected - 60_000, expected);
        }

        // Liveness follows the store's clock even though Redis still holds every key.
        clock.Advance(TimeSpan.FromHours(9));
        Assert.Null(await store.LoadAsync(record.Id));
        Assert.Equal(1, await store.DeleteExpiredAsync(10));
        Assert.DoesNotContain(await RedisTestStores.KeysAsync(connection, _prefix), k => k.Contains(":s:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SessionsWrittenBeforeARedisRestartLoadAfterItThroughTheSameStore()
    {
        await using var server = await RedisServer.StartAsync();
        await using var store = new RedisSessionStore(new RedisSessionStoreOptions { ConnectionString = server.Endpoint + ",defaultDatabase=2" }, _clock);
        var record = NewRecord(subject: "bob", data: new Dictionary<string, string> { ["cart"] = "[\"apple\"]" });
        Assert.True(await store.CreateAsync(record));
        var (access, refresh) = NewPair(record.Id);
        Assert.True(await store.CreateTokensAsync(access, refresh));

        await server.ShutdownAsync();
        await server.StartAsync();

        Assert.Equal("[\"apple\"]", (await store.LoadAsync(record.Id))!.Data["cart"]);
        Assert.Equal(record.Id, (await store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id)))!.Id);
        Assert.Equal(record.Id, (await store.LoadTokenAsync(access.Id))!.Session!.Id);
        // Writes work too: the scripts were forgotten with the restart and are sent again (NOSCRIPT fallback).
        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = new Dictionary<string, string> { ["after"] = "true" } }));
        Assert.Single(await store.ListBySubjectAsync("bob"));
        Assert.Equal(1, await store.CountAsync());
    }

    [Fact]
    public async Task AFullCycleWorksOnAServerWhereConfigIsDisabledAndNeverSendsIt()
    {
        await using var server = await RedisServer.StartAsync("--rename-command", "CONFIG", "");
        await using var admin = await ConnectionMultiplexer.ConnectAsync(server.Endpoint + ",allowAdmin=true");
        await Assert.ThrowsAsync<RedisServerException>(async () => await admin.GetDatabase().ExecuteAsync("CONFIG", "GET", "maxmemory"));
        await using var store = new RedisSessionStore(new RedisSessionStoreOptions { ConnectionString = server.Endpoint }, _clock);

        await RunFullCycleAsync(store, _clock);

        var stats = (string)(await admin.GetDatabase().ExecuteAsync("INFO", "commandstats"))!;
        Assert.Contains("cmdstat_evalsha", stats, StringComparison.Ordinal);
        Assert.DoesNotContain("cmdstat_config", stats, StringComparison.Ordinal);
        Assert.DoesNotContain("cmdstat_keys", stats, StringComparison.Ordinal);
        Assert.DoesNotContain("cmdstat_scan", stats, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryRequestPathOperationOnASignedInSessionIsOneCommandAndASignInIsTwo()
    {
        await using var store = new RedisSessionStore(new RedisSessionStoreOptions { ConnectionString = redis.Endpoint, KeyPrefix = _prefix }, _clock);
        Assert.True(await store.CreateAsync(NewRecord(subject: "carol"))); // connects

        // The store's own multiplexer counts the operations it sent (a script is one, whatever it runs inside). The
        // first pass loads each script (StackExchange.Redis sends it once per connection); the second pass is counted.
        var counters = (ConnectionMultiplexer)await store.GetConnectionAsync();
        var counting = false;
        async Task<T> Sends<T>(long commands, Func<ValueTask<T>> operation)
        {
            var before = counters.GetCounters().Interactive.OperationCount;
            var result = await operation();
            if (counting)
            {
                Assert.Equal(commands, counters.GetCounters().Interactive.OperationCount - before);
            }
            return result;
        }

        for (var pass = 0; pass < 2; pass++, counting = true)
        {
            var record = NewRecord(subject: "carol", data: new Dictionary<string, string> { ["a"] = "1" });
            var (access, refresh) = NewPair(record.Id);
            var (access2, refresh2) = NewPair(record.Id);
            Assert.True(await Sends(2, () => store.CreateAsync(record))); // the subject's index, then the session
            Assert.NotNull(await Sends(1, () => store.LoadAsync(record.Id)));
            Assert.NotNull(await Sends(1, () => store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id))));
            Assert.True(await Sends(1, () => store.ApplyAsync(record.Id, new SessionPatch { ClearData = true, Set = new Dictionary<string, string> { ["b"] = "2" }, NewCredentialHash = RandomNumberGenerator.GetBytes(32) })));
            Assert.True(await Sends(1, () => store.TouchAsync(record.Id, Now(), Now().AddMinutes(30))));
            Assert.True(await Sends(1, () => store.CreateTokensAsync(access, refresh)));
            Assert.NotNull(await Sends(1, () => store.LoadTokenAsync(access.Id)));
            Assert.Equal(TokenRotationOutcome.Rotated, await Sends(1, () => store.RotateAsync(refresh.Id, access2, refresh2, Now())));
            Assert.Equal(pass + 2, (await Sends(1 + pass + 2, () => store.ListBySubjectAsync("carol"))).Count); // the index, then one hash per session
            Assert.True(await Sends(2, () => store.CreateAsync(NewRecord()))); // the anonymous bound's reservation, then the session
        }
    }

    [Fact]
    public async Task CredentialLookupsThatWaitTogetherRunAsOneScriptAndEachGetsItsOwnSession()
    {
        // On a single node the lookups of one batch become one script; every caller must still get its own answer,
        // a credential that finds nothing included, in whatever order they were combined. Each round reads the same
        // credentials again, so the store remembers none (a remembered credential is read without the script).
        var store = new RedisSessionStore(await RedisTestStores.ConnectionAsync(redis), new() { KeyPrefix = _prefix, CredentialLookupCacheSize = 0 }, _clock);
        var records = Enumerable.Range(0, 40).Select(i => NewRecord(subject: $"user-{i}")).ToArray();
        foreach (var record in records)
        {
            Assert.True(await store.CreateAsync(record));
        }
        var unknown = Enumerable.Range(0, 10).Select(i => (Hash: RandomNumberGenerator.GetBytes(32), Route: SessionRoute.Of(records[i].Id))).ToArray();

        for (var round = 0; round < 20 && store.CombinedLookups == 0; round++)
        {
            var lookups = records.Select(r => store.LoadByCredentialAsync(r.CredentialHash, SessionRoute.Of(r.Id)).AsTask())
                .Concat(unknown.Select(u => store.LoadByCredentialAsync(u.Hash, u.Route).AsTask()))
                .ToArray();
            var loaded = await Task.WhenAll(lookups);

            for (var i = 0; i < records.Length; i++)
            {
                Assert.Equal(records[i].Id, loaded[i]?.Id);
                Assert.Equal(records[i].Subject, loaded[i]?.Subject);
            }
            Assert.All(loaded[records.Length..], Assert.Null);
        }

        Assert.True(store.CombinedLookups > 0, "50 concurrent lookups were never combined in 20 rounds");
    }

    [Fact]
    public async Task ARememberedCredentialEndsTheMomentAnotherInstanceRevokesRenewsOrDeletesItsSessionOrItExpires()
    {
        // Two app instances on one Redis. The reader remembers which session each credential found, and reads it again
        // with one HGETALL; whatever the other instance does to a session must show on the reader's very next read.
        var connection = await RedisTestStores.ConnectionAsync(redis);
        var reader = new RedisSessionStore(connection, new() { KeyPrefix = _prefix }, _clock);
        var other = new RedisSessionStore(connection, new() { KeyPrefix = _prefix }, _clock);
        var revoked = NewRecord(subject: "dave");
        var renewed = NewRecord(subject: "erin");
        var deleted = NewRecord(subject: "frank");
        var expiring = NewRecord(subject: "grace") with { IdleExpiresAt = Now().AddMinutes(1) };
        var kept = NewRecord(subject: "heidi", data: new Dictionary<string, string> { ["cart"] = "[1]" });
        SessionRecord[] all = [revoked, renewed, deleted, expiring, kept];
        foreach (var record in all)
        {
            Assert.True(await other.CreateAsync(record));
            Assert.Equal(record.Id, (await reader.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id)))?.Id); // the script
        }
        Assert.Equal(5, reader.RememberedCredentials);
        Assert.Equal(0, reader.RememberedCredentialReads);

        foreach (var record in all)
        {
            var again = await reader.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id));
            Assert.Equal(record.Id, again?.Id);
            Assert.Equal(record.Subject, again?.Subject);
        }
        Assert.Equal(5, reader.RememberedCredentialReads);
        await other.ApplyAsync(kept.Id, new SessionPatch { Set = new Dictionary<string, string> { ["cart"] = "[1,2]" } });
        Assert.Equal("[1,2]", (await reader.LoadByCredentialAsync(kept.CredentialHash, SessionRoute.Of(kept.Id)))?.Data["cart"]); // never a stale copy
        Assert.Equal(6, reader.RememberedCredentialReads);

        Assert.True(await other.RevokeAsync(revoked.Id, Now()));
        var newCredential = RandomNumberGenerator.GetBytes(32);
        Assert.True(await other.ApplyAsync(renewed.Id, new SessionPatch { NewCredentialHash = newCredential }));
        Assert.True(await other.DeleteAsync(deleted.Id));
        _clock.Advance(TimeSpan.FromMinutes(2));

        Assert.Null(await reader.LoadByCredentialAsync(revoked.CredentialHash, SessionRoute.Of(revoked.Id)));
        Assert.Null(await reader.LoadByCredentialAsync(renewed.CredentialHash, SessionRoute.Of(renewed.Id)));
        Assert.Null(await reader.LoadByCredentialAsync(deleted.CredentialHash, SessionRoute.Of(deleted.Id)));
        Assert.Null(await reader.LoadByCredentialAsync(expiring.CredentialHash, SessionRoute.Of(expiring.Id)));
        Assert.Equal(renewed.Id, (await reader.LoadByCredentialAsync(newCredential, SessionRoute.Of(renewed.Id)))?.Id);
        Assert.Equal(kept.Id, (await reader.LoadByCredentialAsync(kept.CredentialHash, SessionRoute.Of(kept.Id)))?.Id);
        Assert.Equal(7, reader.RememberedCredentialReads); // only the kept session's
        Assert.Equal(2, reader.RememberedCredentials); // the kept session's credential and the renewed session's new one
        // And a credential that failed stays failed: forgotten, it runs the script again, which finds nothing either.
        Assert.Null(await reader.LoadByCredentialAsync(renewed.CredentialHash, SessionRoute.Of(renewed.Id)));
        Assert.Equal(7, reader.RememberedCredentialReads);
    }

    [Fact]
    public async Task ReadsSentInOneBatchEachGetTheirOwnAnswerAndOneThatFailsFailsAlone()
    {
        // Remembered credential reads, reads by id and lookups that find nothing, all in flight at once: the batch
        // hands each reply to its own caller, and a reply that is an error (a session key that is not a hash) fails
        // only the read that asked for it.
        var connection = await RedisTestStores.ConnectionAsync(redis);
        var store = new RedisSessionStore(connection, new() { KeyPrefix = _prefix }, _clock);
        var records = Enumerable.Range(0, 30).Select(i => NewRecord(subject: $"batch-{i}")).ToArray();
        foreach (var record in records)
        {
            Assert.True(await store.CreateAsync(record));
            Assert.NotNull(await store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id)));
        }
        var broken = NewRecord().Id;
        await connection.GetDatabase().StringSetAsync($"{store.Base(SessionRoute.Of(broken))}:s:{broken}", "not a hash");
        var remembered = store.RememberedCredentialReads;

        for (var round = 0; round < 10; round++)
        {
            var byCredential = records.Select(r => store.LoadByCredentialAsync(r.CredentialHash, SessionRoute.Of(r.Id)).AsTask()).ToArray();
            var byId = records.Select(r => store.LoadAsync(r.Id).AsTask()).ToArray();
            var unknown = Enumerable.Range(0, 5).Select(i => store.LoadByCredentialAsync(RandomNumberGenerator.GetBytes(32), SessionRoute.Of(records[i].Id)).AsTask()).ToArray();
            var failing = store.LoadAsync(broken).AsTask();

            await Assert.ThrowsAsync<RedisServerException>(() => failing);
            var loaded = await Task.WhenAll(byCredential);
            var loadedById = await Task.WhenAll(byId);
            for (var i = 0; i < records.Length; i++)
            {
                Assert.Equal(records[i].Subject, loaded[i]?.Subject);
                Assert.Equal(records[i].Subject, loadedById[i]?.Subject);
            }
            Assert.All(await Task.WhenAll(unknown), Assert.Null);
        }
        Assert.Equal(remembered + 10 * records.Length, store.RememberedCredentialReads);
    }

    [Fact]
    public async Task TheRememberedCredentialsStayWithinTheirBoundAndTheSessionsPastTheirEndGoFirst()
    {
        var store = new RedisSessionStore(await RedisTestStores.ConnectionAsync(redis), new() { KeyPrefix = _prefix, CredentialLookupCacheSize = 4 }, _clock);
        async Task<SessionRecord> ReadTwiceAsync(SessionRecord record)
        {
            Assert.True(await store.CreateAsync(record));
            Assert.Equal(record.Id, (await store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id)))?.Id);
            Assert.Equal(record.Id, (await store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id)))?.Id);
            Assert.InRange(store.RememberedCredentials, 1, 4);
            return record;
        }

        // Full with four sessions that end within the hour; once they have ended, a fifth takes the place of all four.
        for (var i = 0; i < 4; i++)
        {
            await ReadTwiceAsync(NewRecord() with { AbsoluteExpiresAt = Now().AddMinutes(50), IdleExpiresAt = Now().AddMinutes(30) });
        }
        Assert.Equal(4, store.RememberedCredentials);
        Assert.Equal(4, store.RememberedCredentialReads);
        _clock.Advance(TimeSpan.FromHours(1));
        await ReadTwiceAsync(NewRecord());
        Assert.Equal(1, store.RememberedCredentials);
        Assert.Equal(5, store.RememberedCredentialReads);

        // Full again with that one and three live sessions: a fourth starts over (none of them has ended), and every
        // session still reads, remembered or not.
        var live = new List<SessionRecord>();
        for (var i = 0; i < 4; i++)
        {
            live.Add(await ReadTwiceAsync(NewRecord()));
        }
        Assert.Equal(1, store.RememberedCredentials);
        Assert.Equal(9, store.RememberedCredentialReads);
        foreach (var record in live)
        {
            Assert.Equal(record.Id, (await store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id)))?.Id);
        }
        Assert.Equal(4, store.RememberedCredentials);
        Assert.Equal(10, store.RememberedCredentialReads); // the last one's; the three forgotten ran the script
    }

    [Fact]
    public async Task WithTheCacheOffEveryCredentialReadRunsTheLookupScript()
    {
        var store = new RedisSessionStore(await RedisTestStores.ConnectionAsync(redis), new() { KeyPrefix = _prefix, CredentialLookupCacheSize = 0 }, _clock);
        var record = NewRecord(subject: "ivan");
        Assert.True(await store.CreateAsync(record));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(record.Id, (await store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id)))?.Id);
        }
        Assert.Equal(0, store.RememberedCredentials);
        Assert.Equal(0, store.RememberedCredentialReads);
    }

    [Fact]
    public async Task AccessTokenLookupsThatWaitTogetherRunAsOneScriptAndEachGetsItsOwnTokenAndSession()
    {
        var store = new RedisSessionStore(await RedisTestStores.ConnectionAsync(redis), new() { KeyPrefix = _prefix }, _clock);
        var sessions = new List<(SessionRecord Record, TokenRecord Access)>();
        for (var i = 0; i < 40; i++)
        {
            var record = NewRecord(subject: $"user-{i}");
            Assert.True(await store.CreateAsync(record));
            var (access, refresh) = NewPair(record.Id);
            Assert.True(await store.CreateTokensAsync(access, refresh));
            sessions.Add((record, access));
        }
        // Token ids that were never stored find nothing.
        var unknown = Enumerable.Range(0, 10).Select(_ => NewPair(sessions[0].Record.Id).Access.Id).ToArray();

        for (var round = 0; round < 20 && store.CombinedLookups == 0; round++)
        {
            var lookups = sessions.Select(s => store.LoadTokenAsync(s.Access.Id).AsTask())
                .Concat(unknown.Select(id => store.LoadTokenAsync(id).AsTask()))
                .ToArray();
            var loaded = await Task.WhenAll(lookups);

            for (var i = 0; i < sessions.Count; i++)
            {
                Assert.Equal(sessions[i].Access.Id, loaded[i]?.Token.Id);
                Assert.Equal(sessions[i].Record.Id, loaded[i]?.Session?.Id);
                Assert.Equal(sessions[i].Record.Subject, loaded[i]?.Session?.Subject);
            }
            Assert.All(loaded[sessions.Count..], Assert.Null);
        }

        Assert.True(store.CombinedLookups > 0, "50 concurrent token lookups were never combined in 20 rounds");
    }

    [Fact]
    public async Task APrefixThatIsAHashTagPutsEveryKeyOfTheStoreOnOneClusterSlot()
    {
        var prefix = "{" + _prefix + "}";
        var connection = await RedisTestStores.ConnectionAsync(redis);
        var store = new RedisSessionStore(connection, new() { KeyPrefix = prefix }, _clock);
        try
        {
            await RunFullCycleAsync(store, _clock, keep: true);
            var keys = await RedisTestStores.KeysAsync(connection, prefix);
            Assert.NotEmpty(keys);
            // Redis hashes only the first {...} of a key: the prefix's tag, for every key of the store.
            Assert.All(keys, k => Assert.StartsWith(prefix, k, StringComparison.Ordinal));
        }
        finally
        {
            await RedisTestStores.DeleteKeysAsync(connection, prefix);
        }
    }

    [Fact]
    public async Task OnlyOneOfManyConcurrentRotationsOfOneRefreshTokenWins()
    {
        var store = new RedisSessionStore(await RedisTestStores.ConnectionAsync(redis), new() { KeyPrefix = _prefix }, _clock);
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        var (access, refresh) = NewPair(record.Id);
        Assert.True(await store.CreateTokensAsync(access, refresh));

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            var (a, r) = NewPair(record.Id);
            return await store.RotateAsync(refresh.Id, a, r, Now());
        }));

        Assert.Single(outcomes, o => o == TokenRotationOutcome.Rotated);
        Assert.Equal(19, outcomes.Count(o => o == TokenRotationOutcome.AlreadyRevoked));
    }

    [Fact]
    public async Task UseRedisStoreBuildsTheStoreOnTheContainersClock()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddTesseraCore(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key())).UseRedisStore(redis.Endpoint, o => o.KeyPrefix = _prefix);
        await using var provider = services.BuildServiceProvider();

        var store = Assert.IsType<RedisSessionStore>(provider.GetRequiredService<ISessionStore>());
        Assert.Same(store, provider.GetRequiredService<RedisSessionStore>());
        Assert.Equal(_prefix, store.KeyPrefix);
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        Assert.NotNull(await store.LoadAsync(record.Id));
        _clock.Advance(TimeSpan.FromHours(9)); // the container's clock, not the machine's, decides expiry
        Assert.Null(await store.LoadAsync(record.Id));
    }

    [Fact]
    public void BadOptionsFailWhenTheStoreIsRegistered()
    {
        var builder = new ServiceCollection().AddTesseraCore();
        Assert.Throws<ArgumentException>(() => builder.UseRedisStore("localhost:6379,nosuchoption=1"));
        Assert.Throws<ArgumentException>(() => builder.UseRedisStore(",,,"));
        // The old client's keywords are refused by name, never silently ignored (docs/redis.md, upgrading).
        Assert.Contains("database", Assert.Throws<ArgumentException>(() => builder.UseRedisStore("localhost:6379,database=2")).Message, StringComparison.Ordinal);
        Assert.Contains("commandTimeout", Assert.Throws<ArgumentException>(() => builder.UseRedisStore("localhost:6379,commandTimeout=500")).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => builder.UseRedisStore("localhost", o => o.KeyPrefix = "has space"));
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.UseRedisStore("localhost", o => o.ExpiryMargin = TimeSpan.Zero));
        Assert.Throws<ArgumentException>(() => new RedisSessionStore(new RedisSessionStoreOptions()));
    }

    [Fact]
    public async Task AnUnreachableServerFailsTheOperationAndALaterOperationConnects()
    {
        await using var server = await RedisServer.StartAsync();
        await server.StopAsync();
        await using var store = new RedisSessionStore(new RedisSessionStoreOptions { ConnectionString = server.Endpoint + ",connectTimeout=500" }, _clock);

        await Assert.ThrowsAnyAsync<RedisException>(async () => await store.LoadAsync("x"));

        await server.StartAsync();
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        Assert.NotNull(await store.LoadAsync(record.Id));
    }

    private static async Task RunFullCycleAsync(RedisSessionStore store, FakeTimeProvider clock, bool keep = false)
    {
        var now = clock.GetUtcNow();
        var record = NewRecord(clock, "dave", new Dictionary<string, string> { ["a"] = "1" });
        Assert.True(await store.CreateAsync(record));
        Assert.NotNull(await store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id)));
        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = new Dictionary<string, string> { ["b"] = "2" }, Removed = ["a"] }));
        Assert.Equal("2", (await store.LoadAsync(record.Id))!.Data["b"]);
        Assert.True(await store.TouchAsync(record.Id, now, now.AddMinutes(30)));
        var (access, refresh) = NewPair(record.Id, clock);
        var (access2, refresh2) = NewPair(record.Id, clock);
        Assert.True(await store.CreateTokensAsync(access, refresh));
        Assert.Equal(TokenRotationOutcome.Rotated, await store.RotateAsync(refresh.Id, access2, refresh2, now));
        Assert.Single(await store.ListBySubjectAsync("dave"));
        Assert.Equal(1, await store.CountAsync());
        var other = NewRecord(clock);
        Assert.True(await store.CreateAsync(other));
        Assert.True(await store.RevokeAsync(other.Id, now));
        Assert.Equal(1, await store.DeleteRevokedAsync(now, 10));
        if (!keep)
        {
            clock.Advance(TimeSpan.FromHours(9));
            Assert.Equal(1, await store.DeleteExpiredAsync(10));
            Assert.Equal(0, await store.CountAsync());
        }
    }

    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(_clock.GetUtcNow().ToUnixTimeMilliseconds());

    [Fact]
    public async Task ACleanupBatchDeletesExactlyItsSizeEvenWhenEveryExpiredSessionSitsInOneBucket()
    {
        var connection = await RedisTestStores.ConnectionAsync(redis);
        var store = new RedisSessionStore(connection, new() { KeyPrefix = _prefix }, _clock);
        for (var i = 0; i < 100; i++)
        {
            // Ids with one route: one bucket, so its scripts (at most 32 sessions each) must run one after another.
            Assert.True(await store.CreateAsync(NewRecord() with { Id = "0123" + Guid.NewGuid().ToString("N") }));
        }
        for (var i = 0; i < 10; i++)
        {
            Assert.True(await store.CreateAsync(NewRecord())); // and a few elsewhere
        }
        _clock.Advance(TimeSpan.FromDays(1));

        Assert.Equal(70, await store.DeleteExpiredAsync(70));
        Assert.Equal(40, await store.DeleteExpiredAsync(70));
        Assert.Equal(0, await store.DeleteExpiredAsync(70));
        Assert.Empty(await RedisTestStores.KeysAsync(connection, _prefix));
    }

    private SessionRecord NewRecord(string? subject = null, Dictionary<string, string>? data = null) => NewRecord(_clock, subject, data);

    private static SessionRecord NewRecord(TimeProvider clock, string? subject = null, Dictionary<string, string>? data = null)
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(clock.GetUtcNow().ToUnixTimeMilliseconds());
        return new SessionRecord
        {
            Id = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_'),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            Subject = subject,
            Data = data ?? new Dictionary<string, string>(StringComparer.Ordinal),
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now.AddMinutes(30),
            AbsoluteExpiresAt = now.AddHours(8),
        };
    }

    private (TokenRecord Access, TokenRecord Refresh) NewPair(string sessionId) => NewPair(sessionId, _clock);

    private static (TokenRecord Access, TokenRecord Refresh) NewPair(string sessionId, TimeProvider clock)
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(clock.GetUtcNow().ToUnixTimeSeconds());
        string accessId = SessionRoute.NewTokenId(sessionId), refreshId = SessionRoute.NewTokenId(sessionId);
        return (
            new TokenRecord { Id = accessId, SessionId = sessionId, Kind = TokenKind.Access, PairedTokenId = refreshId, CreatedAt = now, ExpiresAt = now.AddMinutes(5) },
            new TokenRecord { Id = refreshId, SessionId = sessionId, Kind = TokenKind.Refresh, PairedTokenId = accessId, CreatedAt = now, ExpiresAt = now.AddDays(1) });
    }
}
