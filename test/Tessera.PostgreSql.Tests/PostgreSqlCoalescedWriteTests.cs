using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Tessera.Testing;
using Tessera.TestServices;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// Writes that arrive together share one round trip and one transaction: each still lands on its own session, a write
/// that fails fails alone (the others land), writes to one session keep their order, and a batch the server refuses
/// fails each of its writes as each would have failed alone.
/// </summary>
public sealed class PostgreSqlCoalescedWriteTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    private static SessionPatch Set(string key, int value) =>
        new() { Set = new Dictionary<string, string> { [key] = JsonSerializer.Serialize(value) } };

    private async Task<List<SessionRecord>> CreateAsync(PostgreSqlSessionStore store, int count)
    {
        var records = new List<SessionRecord>();
        for (var i = 0; i < count; i++)
        {
            var record = StoreConfigurationHost.NewRecord(_clock);
            Assert.True(await store.CreateAsync(record));
            records.Add(record);
        }
        return records;
    }

    private static async Task<string?> ValueAsync(PostgreSqlSessionStore store, SessionRecord record, string key) =>
        (await store.LoadAsync(record.Id))?.Data.GetValueOrDefault(key);

    [Fact]
    public async Task ConcurrentWritesShareRoundTripsAndEachLandsOnItsOwnSession()
    {
        await using var store = await database.CreateStoreAsync(_clock);
        var records = await CreateAsync(store, 200);
        var before = store.WriteRoundTrips;

        var writes = records.Select((r, i) => store.ApplyAsync(r.Id, Set("n", i)).AsTask())
            .Concat(records.Select(r => store.TouchAsync(r.Id, _clock.GetUtcNow(), r.IdleExpiresAt.AddMinutes(1)).AsTask()))
            .Append(store.ApplyAsync(StoreConfigurationHost.NewRecord(_clock).Id, Set("n", -1)).AsTask())
            .ToList();
        var results = await Task.WhenAll(writes);

        Assert.All(results[..^1], Assert.True);
        Assert.False(results[^1], "a write to a session that does not exist changes nothing");
        for (var i = 0; i < records.Count; i++)
        {
            var stored = await store.LoadAsync(records[i].Id);
            Assert.Equal(JsonSerializer.Serialize(i), stored?.Data["n"]);
            Assert.Equal(records[i].IdleExpiresAt.AddMinutes(1), stored?.IdleExpiresAt);
        }
        var roundTrips = store.WriteRoundTrips - before;
        Assert.True(roundTrips < writes.Count / 2, $"{writes.Count} writes made {roundTrips} round trips");
    }

    [Fact]
    public async Task HeldWritesGoAsOneRoundTripAndWritesToOneSessionKeepTheirOrder()
    {
        await using var store = await database.CreateStoreAsync(_clock);
        var records = await CreateAsync(store, 3);
        var before = store.WriteRoundTrips;

        store.HoldWrites();
        var writes = new[]
        {
            store.ApplyAsync(records[2].Id, Set("n", 1)).AsTask(),
            store.ApplyAsync(records[0].Id, Set("n", 1)).AsTask(),
            store.ApplyAsync(records[2].Id, Set("n", 2)).AsTask(),
            store.ApplyAsync(records[1].Id, Set("n", 1)).AsTask(),
            store.ApplyAsync(records[2].Id, Set("n", 3)).AsTask(),
        };
        Assert.DoesNotContain(writes, w => w.IsCompleted);
        store.ReleaseWrites();

        Assert.All(await Task.WhenAll(writes), Assert.True);
        Assert.Equal(1, store.WriteRoundTrips - before);
        Assert.Equal("3", await ValueAsync(store, records[2], "n"));
        Assert.Equal("1", await ValueAsync(store, records[0], "n"));
        Assert.Equal("1", await ValueAsync(store, records[1], "n"));
    }

    [Fact]
    public async Task AWriteThatFailsInABatchFailsAloneAndTheOthersLand()
    {
        await using var store = await database.CreateStoreAsync(_clock);
        var records = await CreateAsync(store, 4);
        var before = store.WriteRoundTrips;

        store.HoldWrites();
        var first = store.ApplyAsync(records[0].Id, Set("n", 1)).AsTask();
        // Taking another live session's credential hash breaks the unique index: that write is refused (false).
        var colliding = store.ApplyAsync(records[1].Id, new SessionPatch { NewCredentialHash = records[2].CredentialHash }).AsTask();
        var last = store.ApplyAsync(records[3].Id, Set("n", 3)).AsTask();
        store.ReleaseWrites();

        Assert.True(await first);
        Assert.False(await colliding);
        Assert.True(await last);
        // The batch, rolled back whole, then each write alone.
        Assert.Equal(4, store.WriteRoundTrips - before);
        Assert.Equal("1", await ValueAsync(store, records[0], "n"));
        Assert.Equal("3", await ValueAsync(store, records[3], "n"));
        Assert.Equal(records[1].Id, (await store.LoadByCredentialAsync(records[1].CredentialHash))?.Id);
        Assert.Equal(records[2].Id, (await store.LoadByCredentialAsync(records[2].CredentialHash))?.Id);
    }

    [Fact]
    public async Task EveryWriteOfABatchTheServerRefusesFails()
    {
        var schema = database.NewSchema();
        await using var store = await database.CreateStoreAsync(_clock, o => o.Schema = schema);
        var records = await CreateAsync(store, 2);
        await database.ExecuteAsync($"""DROP SCHEMA "{schema}" CASCADE""");

        store.HoldWrites();
        var writes = records.Select(r => store.ApplyAsync(r.Id, Set("n", 1)).AsTask()).ToList();
        store.ReleaseWrites();

        foreach (var write in writes)
        {
            var failure = await Assert.ThrowsAsync<PostgresException>(() => write);
            Assert.Equal(PostgresErrorCodes.UndefinedTable, failure.SqlState);
        }
    }

    [Fact]
    public async Task ACancelledWriteStopsWaitingWhileItsBatchGoesOn()
    {
        await using var store = await database.CreateStoreAsync(_clock);
        var records = await CreateAsync(store, 2);
        using var cancellation = new CancellationTokenSource();

        store.HoldWrites();
        var cancelled = store.ApplyAsync(records[0].Id, Set("n", 1), cancellation.Token).AsTask();
        var other = store.ApplyAsync(records[1].Id, Set("n", 2), TestContext.Current.CancellationToken).AsTask();
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.False(other.IsCompleted);
        store.ReleaseWrites();
        Assert.True(await other);
        Assert.Equal("2", await ValueAsync(store, records[1], "n"));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.ApplyAsync(records[0].Id, Set("n", 3), cancellation.Token).AsTask());
    }

    // A batch that times out fails each of its writes with the timeout at once, instead of running each alone into a
    // timeout of its own, one after another (the last of them would wait a timeout per write before it).
    [Fact]
    public async Task EveryWriteOfABatchThatTimesOutFailsWithTheTimeoutAfterOneRoundTrip()
    {
        var schema = database.NewSchema();
        await using var store = await database.CreateStoreAsync(_clock, o =>
        {
            o.Schema = schema;
            o.CommandTimeout = TimeSpan.FromSeconds(1);
        });
        var records = await CreateAsync(store, 3);
        var before = store.WriteRoundTrips;
        await using (var blocker = await database.DataSource.OpenConnectionAsync(TestContext.Current.CancellationToken))
        {
            await using var transaction = await blocker.BeginTransactionAsync(TestContext.Current.CancellationToken);
            await using (var lockTable = new NpgsqlCommand($"""LOCK TABLE "{schema}"."sessionStore" IN ACCESS EXCLUSIVE MODE""", blocker, transaction))
            {
                await lockTable.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
            }

            store.HoldWrites();
            var writes = records.Select(r => store.ApplyAsync(r.Id, Set("n", 1)).AsTask()).ToList();
            store.ReleaseWrites();

            foreach (var write in writes)
            {
                var failure = await Assert.ThrowsAsync<NpgsqlException>(() => write);
                Assert.IsType<TimeoutException>(failure.InnerException);
            }
            Assert.Equal(1, store.WriteRoundTrips - before);
            await transaction.RollbackAsync(TestContext.Current.CancellationToken);
        }

        Assert.True(await store.ApplyAsync(records[0].Id, Set("n", 2)));
        Assert.Equal("2", await ValueAsync(store, records[0], "n"));
    }
}
