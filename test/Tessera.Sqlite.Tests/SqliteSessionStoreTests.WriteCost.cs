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
}
