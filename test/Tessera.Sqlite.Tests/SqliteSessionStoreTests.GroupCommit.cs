using Microsoft.Data.Sqlite;

namespace Tessera.Sqlite.Tests;

// Group commit: writes that queue while a transaction runs share the next one, a savepoint each. Every test queues its
// writes behind another connection's write lock, so that what shares a transaction is decided, not raced.
public sealed partial class SqliteSessionStoreTests
{
    [Fact]
    public async Task WritesThatQueueWhileOneRunsShareOneTransaction()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        await store.InitializeAsync();
        var records = Enumerable.Range(0, 31).Select(_ => NewRecord()).ToList();

        var (creates, transactions) = await BehindAnotherWriterAsync(path, store, records.Select(r => (Func<Task<bool>>)(() => store.CreateAsync(r).AsTask())).ToList());

        Assert.All(await Task.WhenAll(creates), Assert.True);
        Assert.Equal(2, transactions); // the first write's own, then the thirty that queued behind it
        Assert.Equal(31L, await store.CountRecordsAsync());
        foreach (var record in records)
        {
            AssertSameRecord(record, await store.LoadAsync(record.Id));
        }
    }

    // A fault of SQLite's own, injected in the database by a trigger on one write's second key. RAISE(ABORT) fails that
    // statement and the transaction goes on: the write is rolled back to its savepoint alone. RAISE(ROLLBACK) rolls back
    // the whole transaction, savepoints and all, as a full disk or an I/O error does: then each of the ten others runs
    // again alone. Either way only the faulty write fails, and "first", written before its fault, is gone with it.
    [Theory]
    [InlineData("ABORT", 2)]
    [InlineData("ROLLBACK", 2 + 10)]
    public async Task OnlyTheFaultyWriteOfAGroupFailsAndTheOthersCommit(string raise, long expectedTransactions)
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        var records = Enumerable.Range(0, 12).Select(_ => NewRecord()).ToList();
        foreach (var record in records)
        {
            await store.CreateAsync(record);
        }
        Execute(path, $"CREATE TRIGGER test_fault BEFORE INSERT ON tessera_session_data WHEN NEW.key = 'boom' BEGIN SELECT RAISE({raise}, 'injected fault'); END");

        var (applies, transactions) = await BehindAnotherWriterAsync(path, store, records.Select((r, i) => (Func<Task<bool>>)(() => store.ApplyAsync(r.Id, new SessionPatch
        {
            Set = new Dictionary<string, string> { ["first"] = "yes", [i == 5 ? "boom" : "n"] = $"{i}" },
        }).AsTask())).ToList());

        var failure = await Assert.ThrowsAsync<SqliteException>(() => applies[5]);
        Assert.Contains("injected fault", failure.Message, StringComparison.Ordinal);
        Assert.Equal(expectedTransactions, transactions); // the first write's own, the group's, and any run again alone
        await AssertOnlyTheFaultyWriteLostItsDataAsync(store, records, applies, records.Count, i => new Dictionary<string, string> { ["first"] = "yes", ["n"] = $"{i}" });
    }

    // The same faults on writes of one statement (one-key patches and a revocation, which take no savepoint), mixed
    // with writes of several in one group: RAISE(ABORT) undoes only the faulty statement and the others of the
    // transaction commit with it; RAISE(ROLLBACK) takes the whole transaction, and the eleven others run again alone,
    // each in a transaction of its own (had they run on after the loss, each would have committed on its own and the
    // revocation, run again, would report false). A patch to a session revoked before changes no row and reports false
    // without failing anyone.
    [Theory]
    [InlineData("ABORT", 2)]
    [InlineData("ROLLBACK", 2 + 11)]
    public async Task AFaultyWriteOfOneStatementFailsAloneWithoutASavepoint(string raise, long expectedTransactions)
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        var records = Enumerable.Range(0, 13).Select(_ => NewRecord()).ToList();
        foreach (var record in records)
        {
            await store.CreateAsync(record);
        }
        await store.RevokeAsync(records[12].Id, DateTimeOffset.UtcNow);
        Execute(path, $"CREATE TRIGGER test_fault BEFORE INSERT ON tessera_session_data WHEN NEW.key = 'boom' BEGIN SELECT RAISE({raise}, 'injected fault'); END");
        SessionPatch PatchOf(int i) => i switch
        {
            5 => new SessionPatch { Set = new Dictionary<string, string> { ["boom"] = "5" } },
            _ when i % 2 == 0 => new SessionPatch { Set = new Dictionary<string, string> { ["n"] = $"{i}" } },
            _ => new SessionPatch { Set = new Dictionary<string, string> { ["n"] = $"{i}", ["odd"] = "true" } },
        };
        Task<bool> WriteOf(int i) => i == 11
            ? store.RevokeAsync(records[i].Id, DateTimeOffset.UtcNow).AsTask()
            : store.ApplyAsync(records[i].Id, PatchOf(i)).AsTask();

        var (writes, transactions) = await BehindAnotherWriterAsync(path, store, records.Select((_, i) => (Func<Task<bool>>)(() => WriteOf(i))).ToList());

        var failure = await Assert.ThrowsAsync<SqliteException>(() => writes[5]);
        Assert.Contains("injected fault", failure.Message, StringComparison.Ordinal);
        Assert.True(await writes[11]);
        Assert.Null(await store.LoadAsync(records[11].Id));
        Assert.False(await writes[12]);
        Assert.Equal(expectedTransactions, transactions); // the first write's own, the group's, and any run again alone
        await AssertOnlyTheFaultyWriteLostItsDataAsync(store, records, writes, 11, i => PatchOf(i).Set);
        Assert.Equal(0L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_session_data WHERE key = 'boom'"));
    }

    [Fact]
    public async Task AWriteCancelledWhileItWaitsForItsTurnNeverRuns()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        await store.InitializeAsync();
        using var other = TestDatabaseDirectory.OpenRaw(path);
        var hold = other.BeginTransaction(deferred: false);
        var first = Task.Run(() => store.CreateAsync(NewRecord()).AsTask());
        await WaitUntilAsync(() => store.WriteTransactions == 1);
        using var cancel = new CancellationTokenSource();
        var queued = NewRecord();
        var late = Task.Run(() => store.CreateAsync(queued, cancel.Token).AsTask());
        await WaitUntilAsync(() => store.QueuedWrites == 1);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => late); // while the lock is still held
        hold.Commit();
        hold.Dispose();
        Assert.True(await first);
        Assert.Null(await store.LoadAsync(queued.Id));
        Assert.Equal(1L, store.WriteTransactions);
    }

    // After a fault injected into write 5: of the first `count` sessions, write 5's has no data and each other one's
    // write succeeded with exactly its expected data.
    private static async Task AssertOnlyTheFaultyWriteLostItsDataAsync(SqliteSessionStore store, List<SessionRecord> records, List<Task<bool>> writes, int count, Func<int, IReadOnlyDictionary<string, string>> expected)
    {
        for (var i = 0; i < count; i++)
        {
            var loaded = await store.LoadAsync(records[i].Id);
            Assert.NotNull(loaded);
            if (i == 5)
            {
                Assert.Empty(loaded.Data);
            }
            else
            {
                Assert.True(await writes[i]);
                Assert.Equal(expected(i), loaded.Data);
            }
        }
    }

    // Holds another connection's write lock, starts writes[0] (whose transaction then waits for the lock), queues the
    // rest behind it, and lets go. Returns the writes and the transactions they took.
    private static async Task<(List<Task<bool>> Writes, long Transactions)> BehindAnotherWriterAsync(string path, SqliteSessionStore store, List<Func<Task<bool>>> writes)
    {
        var before = store.WriteTransactions;
        List<Task<bool>> started;
        using (var other = TestDatabaseDirectory.OpenRaw(path))
        {
            using var hold = other.BeginTransaction(deferred: false);
            started = [Task.Run(writes[0])];
            await WaitUntilAsync(() => store.WriteTransactions == before + 1);
            started.AddRange(writes.Skip(1).Select(Task.Run));
            await WaitUntilAsync(() => store.QueuedWrites == writes.Count - 1);
            hold.Commit();
        }
        await Task.WhenAll(started.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        return (started, store.WriteTransactions - before);
    }

    // Waits for other threads to reach a state (not for time to pass): bounded, so a broken queue fails the test.
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the writes never reached the expected state");
            await Task.Delay(5);
        }
    }

    private static void Execute(string path, string sql)
    {
        using var connection = TestDatabaseDirectory.OpenRaw(path);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
