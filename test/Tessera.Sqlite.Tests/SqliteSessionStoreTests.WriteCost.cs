namespace Tessera.Sqlite.Tests;

// What a patch writes: a patch of data alone (what a request sends between touches) leaves the session row, and so its
// indexes, as they are; a patch that moves the deadlines updates the row. Counted by a trigger on the row's updates.
public sealed partial class SqliteSessionStoreTests
{
    [Fact]
    public async Task APatchOfDataAloneUpdatesNoSessionRowAndADeadlinePatchUpdatesOne()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        Execute(path, "CREATE TABLE test_row_updates (n INTEGER NOT NULL)");
        Execute(path, "CREATE TRIGGER test_count_row_updates AFTER UPDATE ON tessera_sessions BEGIN INSERT INTO test_row_updates VALUES (1); END");

        for (var i = 0; i < 3; i++)
        {
            Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = new Dictionary<string, string> { ["n"] = $"{i}" } }));
        }

        Assert.Equal(0L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM test_row_updates"));
        Assert.Equal("2", (await store.LoadAsync(record.Id))!.Data["n"]);

        var now = _clock.GetUtcNow();
        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = new Dictionary<string, string> { ["n"] = "3" }, LastSeenAt = now, IdleExpiresAt = now.AddMinutes(30) }));

        Assert.Equal(1L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM test_row_updates"));
    }

    [Fact]
    public async Task APatchOfDataAloneStillFindsARevokedSessionGone()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        Assert.True(await store.RevokeAsync(record.Id, _clock.GetUtcNow()));

        Assert.False(await store.ApplyAsync(record.Id, new SessionPatch { Set = new Dictionary<string, string> { ["n"] = "1" } }));
    }

    // The write connection stays open with its statements compiled: once every kind of write has run, more of them
    // compile nothing (no SQL parsed per write, no pragmas per transaction).
    [Fact]
    public async Task WritesReuseTheStatementsTheWriteConnectionCompiled()
    {
        var store = NewStore(_directory.NewDatabasePath());
        var records = Enumerable.Range(0, 3).Select(_ => NewRecord()).ToList();
        Assert.True(await store.CreateAsync(records[0]));
        await WriteEachKindAsync(store, records[0], 0);
        var compiled = store.WriteStatementsCompiled;
        Assert.True(compiled > 0);

        foreach (var record in records.Skip(1))
        {
            Assert.True(await store.CreateAsync(record));
        }
        for (var i = 1; i <= 20; i++)
        {
            await WriteEachKindAsync(store, records[i % records.Count], i);
        }

        Assert.Equal(compiled, store.WriteStatementsCompiled);
        Assert.Equal(new Dictionary<string, string> { ["n"] = "18" }, (await store.LoadAsync(records[0].Id))!.Data);
    }

    private async Task WriteEachKindAsync(SqliteSessionStore store, SessionRecord record, int i)
    {
        var now = _clock.GetUtcNow();
        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = new Dictionary<string, string> { ["gone"] = "x" } }));
        Assert.True(await store.ApplyAsync(record.Id, new SessionPatch { Set = new Dictionary<string, string> { ["n"] = $"{i}" }, Removed = ["gone"] }));
        Assert.True(await store.TouchAsync(record.Id, now, now.AddMinutes(30)));
    }

    // Disposing the store closes the write connection too: with every connection closed, SQLite checkpoints the WAL
    // into the database file and removes it.
    [Fact]
    public async Task DisposingTheStoreClosesTheWriteConnection()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        Assert.NotNull(await store.LoadAsync(record.Id));
        Assert.True(File.Exists(path + "-wal"));

        await store.DisposeAsync();

        Assert.False(File.Exists(path + "-wal"));
        var reopened = NewStore(path);
        AssertSameRecord(record, await reopened.LoadAsync(record.Id));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.LoadAsync(record.Id).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.TouchAsync(record.Id, _clock.GetUtcNow(), _clock.GetUtcNow().AddMinutes(30)).AsTask());
        store.Dispose(); // again: nothing
    }
}
