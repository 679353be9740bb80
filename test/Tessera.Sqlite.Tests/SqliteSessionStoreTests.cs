using Microsoft.Extensions.Time.Testing;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>What only the SQLite store promises: durability, WAL, schema versions, concurrency, the bound's counter.</summary>
public sealed partial class SqliteSessionStoreTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly TestDatabaseDirectory _directory = new();
    private readonly List<SqliteSessionStore> _stores = [];

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }
        _directory.Dispose();
    }

    [Fact]
    public async Task TheSchemaVersionIsRecordedAndAReopenedFileKeepsItsSessions()
    {
        var path = _directory.NewDatabasePath();
        var record = NewRecord(subject: "alice", data: new() { ["cart"] = """["apple", "pear"]""", ["n"] = "42" }) with
        {
            Metadata = new SessionMetadata("Mozilla/5.0 (X11) \u00e9\u4e2d", "2001:db8::1", "work laptop"),
        };
        var first = NewStore(path);
        Assert.True(await first.CreateAsync(record));
        first.Dispose();

        var second = NewStore(path);
        var loaded = await second.LoadAsync(record.Id);

        AssertSameRecord(record, loaded);
        Assert.Equal((long)SqliteSessionStore.SchemaVersion, TestDatabaseDirectory.Scalar(path, "SELECT max(version) FROM tessera_schema_migrations"));
        Assert.Equal(1L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_schema_migrations WHERE version = 1"));
    }

    [Fact]
    public async Task TheDatabaseIsInWalModeWithItsDirectoryCreated()
    {
        var path = _directory.NewDatabasePath();
        Assert.False(Directory.Exists(Path.GetDirectoryName(path)));
        var store = NewStore(path);

        await store.InitializeAsync();

        Assert.True(File.Exists(path));
        Assert.Equal("wal", TestDatabaseDirectory.Scalar(path, "PRAGMA journal_mode"));
    }

    [Fact]
    public async Task AFileUriDataSourceGetsItsDirectoryCreatedToo()
    {
        var path = _directory.NewDatabasePath();
        var store = new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = $"Data Source=file:{path}?cache=private" }, _clock);
        _stores.Add(store);

        Assert.True(await store.CreateAsync(NewRecord()));

        Assert.Equal(path, store.DatabasePath);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public async Task EveryConnectionWaitsForTheWriteLockKeepsForeignKeysAndSyncsNormally()
    {
        var store = NewStore(_directory.NewDatabasePath());
        await store.InitializeAsync();
        // The store's own connection string with its pragmas, as the store opens it.
        var connectionString = (string)typeof(SqliteSessionStore).GetField("_connectionString", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(store)!;
        var pragmas = (string)typeof(SqliteSessionStore).GetField("_connectionPragmas", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(store)!;
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using (var configure = connection.CreateCommand())
        {
            configure.CommandText = pragmas;
            configure.ExecuteNonQuery();
        }
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT timeout FROM pragma_busy_timeout), (SELECT synchronous FROM pragma_synchronous), (SELECT foreign_keys FROM pragma_foreign_keys);";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());

        Assert.Equal(10_000L, reader.GetInt64(0));
        Assert.Equal(1L, reader.GetInt64(1)); // NORMAL
        Assert.Equal(1L, reader.GetInt64(2));
    }

    [Fact]
    public async Task ADatabaseWithANewerSchemaVersionIsRefusedClearly()
    {
        var path = _directory.NewDatabasePath();
        await NewStore(path).InitializeAsync();
        TestDatabaseDirectory.Scalar(path, $"INSERT INTO tessera_schema_migrations (version, applied_at) VALUES ({SqliteSessionStore.SchemaVersion + 5}, 0)");

        var newer = NewStore(path);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => newer.LoadAsync("any").AsTask());

        Assert.Contains($"schema version {SqliteSessionStore.SchemaVersion + 5}", refused.Message, StringComparison.Ordinal);
        Assert.Contains("newer", refused.Message, StringComparison.Ordinal);
        // Asking again fails the same way rather than half-working.
        await Assert.ThrowsAsync<InvalidOperationException>(() => newer.CreateAsync(NewRecord()).AsTask());
    }

    [Fact]
    public async Task MigratingTwiceChangesNothing()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        var record = NewRecord();
        await store.CreateAsync(record);

        await NewStore(path).InitializeAsync();
        await NewStore(path).InitializeAsync();

        Assert.Equal((long)SqliteSessionStore.SchemaVersion, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_schema_migrations"));
        Assert.NotNull(await NewStore(path).LoadAsync(record.Id));
    }

    [Fact]
    public async Task TwentyConcurrentFirstUsesOfAFreshFileAllSucceed()
    {
        var path = _directory.NewDatabasePath();
        var stores = Enumerable.Range(0, 20).Select(_ => NewStore(path)).ToList();
        using var start = new ManualResetEventSlim();

        var creates = stores.Select(store => Task.Run(async () =>
        {
            start.Wait();
            return await store.CreateAsync(NewRecord());
        })).ToList();
        start.Set();
        var results = await Task.WhenAll(creates);

        Assert.All(results, Assert.True);
        Assert.Equal(20L, await stores[0].CountAsync());
        Assert.Equal((long)SqliteSessionStore.SchemaVersion, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_schema_migrations"));
    }

    [Fact]
    public async Task TwentyConcurrentFirstUsesOfOneStoreAllSucceed()
    {
        var store = NewStore(_directory.NewDatabasePath());
        var records = Enumerable.Range(0, 20).Select(_ => NewRecord()).ToList();

        var results = await Task.WhenAll(records.Select(r => Task.Run(() => store.CreateAsync(r).AsTask())));

        Assert.All(results, Assert.True);
        Assert.Equal(20L, await store.CountAsync());
    }

    [Fact]
    public async Task PerKeyPatchesFromAHundredConcurrentApplyCallsAllSurvive()
    {
        var store = NewStore(_directory.NewDatabasePath());
        var record = NewRecord(data: new() { ["kept"] = "true" });
        await store.CreateAsync(record);

        var applied = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(() => store.ApplyAsync(record.Id, new SessionPatch
        {
            Set = new Dictionary<string, string> { [$"key{i}"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        }).AsTask())));

        Assert.All(applied, Assert.True);
        var loaded = await store.LoadAsync(record.Id);
        Assert.NotNull(loaded);
        Assert.Equal(101, loaded.Data.Count);
        Assert.Equal("true", loaded.Data["kept"]);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), loaded.Data[$"key{i}"]);
        }
    }

    [Fact]
    public async Task PatchesFromTwoStoresOnOneFileBothSurvive()
    {
        var path = _directory.NewDatabasePath();
        var a = NewStore(path);
        var b = NewStore(path);
        var record = NewRecord();
        await a.CreateAsync(record);

        var applied = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() => (i % 2 == 0 ? a : b).ApplyAsync(record.Id, new SessionPatch
        {
            Set = new Dictionary<string, string> { [$"key{i}"] = "1" },
        }).AsTask())));

        Assert.All(applied, Assert.True);
        Assert.Equal(40, (await b.LoadAsync(record.Id))!.Data.Count);
    }

    [Fact]
    public async Task AWriterWaitsForAnotherConnectionsWriteLockInsteadOfFailing()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        await store.InitializeAsync();
        using var other = TestDatabaseDirectory.OpenRaw(path);
        using var hold = other.BeginTransaction(deferred: false);

        var create = Task.Run(() => store.CreateAsync(NewRecord()).AsTask());
        await Task.Delay(TimeSpan.FromMilliseconds(300)); // lock contention, not expiry: a real wait is the point
        Assert.False(create.IsCompleted);
        hold.Commit();

        Assert.True(await create);
    }

    [Fact]
    public async Task AWriterGivesUpWithAnErrorOnceTheCommandTimeoutPasses()
    {
        var path = _directory.NewDatabasePath();
        var store = new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = $"Data Source={path}", CommandTimeout = TimeSpan.FromSeconds(1) }, _clock);
        _stores.Add(store);
        await store.InitializeAsync();
        using var other = TestDatabaseDirectory.OpenRaw(path);
        using var hold = other.BeginTransaction(deferred: false);

        var failure = await Assert.ThrowsAsync<SqliteException>(() => store.CreateAsync(NewRecord()).AsTask());

        Assert.Equal(5, failure.SqliteErrorCode); // SQLITE_BUSY
        hold.Rollback();
        Assert.Equal(0L, await store.CountRecordsAsync());
    }

    [Fact]
    public async Task ThePatchIsAllOrNothingWhenItsNewCredentialIsTaken()
    {
        var store = NewStore(_directory.NewDatabasePath());
        var target = NewRecord(data: new() { ["a"] = "1", ["b"] = "2" });
        var other = NewRecord();
        await store.CreateAsync(target);
        await store.CreateAsync(other);

        var applied = await store.ApplyAsync(target.Id, new SessionPatch
        {
            ClearData = true,
            Set = new Dictionary<string, string> { ["c"] = "3" },
            SubjectChanged = true,
            Subject = "mallory",
            NewCredentialHash = other.CredentialHash,
            LastSeenAt = _clock.GetUtcNow().AddMinutes(1),
        });

        Assert.False(applied);
        AssertSameRecord(target, await store.LoadAsync(target.Id));
        AssertSameRecord(target, await store.LoadByCredentialAsync(target.CredentialHash));
    }

    [Fact]
    public async Task DataTextsAreStoredExactlyAsGivenWithoutParsing()
    {
        var store = NewStore(_directory.NewDatabasePath());
        var texts = new Dictionary<string, string>
        {
            ["spaced"] = "{ \"a\" :\n\t1 }",
            ["unicode"] = "\"\u00e9\ud83d\ude00\\u0000\"",
            ["not json at all"] = "{{{",
            ["empty"] = "",
            [""] = "null",
        };
        var record = NewRecord(data: texts);
        await store.CreateAsync(record);

        var loaded = await store.LoadAsync(record.Id);

        Assert.Equal(texts.OrderBy(p => p.Key, StringComparer.Ordinal), loaded!.Data.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    [Fact]
    public async Task RevokingErasesTheCredentialHashFromTheFile()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        var record = NewRecord();
        await store.CreateAsync(record);

        Assert.True(await store.RevokeAsync(record.Id, _clock.GetUtcNow()));

        Assert.Equal(DBNull.Value, TestDatabaseDirectory.Scalar(path, "SELECT credential_hash FROM tessera_sessions"));
        Assert.NotEqual(DBNull.Value, TestDatabaseDirectory.Scalar(path, "SELECT revoked_at FROM tessera_sessions"));
        // The credential can be issued again to a new session without colliding with the dead one.
        Assert.True(await store.CreateAsync(NewRecord() with { CredentialHash = record.CredentialHash }));
    }

    [Fact]
    public async Task DeletingASessionDeletesItsData()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        var record = NewRecord(data: new() { ["a"] = "1", ["b"] = "2" });
        await store.CreateAsync(record);

        Assert.True(await store.DeleteAsync(record.Id));

        Assert.Equal(0L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_session_data"));
    }

    [Fact]
    public async Task TheBoundCounterStaysRightAfterCreatesDeletesCleanupAndEvictions()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path, maxSessions: 10);
        var records = new List<SessionRecord>();
        for (var i = 0; i < 10; i++)
        {
            var record = NewRecord(data: new() { ["i"] = "1" }) with { LastSeenAt = _clock.GetUtcNow().AddMilliseconds(i) };
            records.Add(record);
            Assert.True(await store.CreateAsync(record));
        }
        await AssertCounterMatches(store, path, 10);

        Assert.True(await store.DeleteAsync(records[0].Id));
        Assert.False(await store.DeleteAsync(records[0].Id));
        await AssertCounterMatches(store, path, 9);

        Assert.True(await store.RevokeAsync(records[1].Id, _clock.GetUtcNow()));
        Assert.False(await store.CreateAsync(records[2])); // a collision inserts nothing
        await AssertCounterMatches(store, path, 9);

        // Two sessions expire; cleanup takes them in batches of one.
        for (var i = 2; i < 4; i++)
        {
            Assert.True(await store.TouchAsync(records[i].Id, records[i].LastSeenAt, _clock.GetUtcNow().AddSeconds(1)));
        }
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await store.DeleteExpiredAsync(1));
        Assert.Equal(1, await store.DeleteExpiredAsync(5));
        Assert.Equal(0, await store.DeleteExpiredAsync(5));
        await AssertCounterMatches(store, path, 7);

        // Fill to the bound, then one more evicts the least recently seen (1% of 10, so one).
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await store.CreateAsync(NewRecord()));
        }
        await AssertCounterMatches(store, path, 10);
        Assert.True(await store.CreateAsync(NewRecord()));
        await AssertCounterMatches(store, path, 10);
        // The least recently seen was the revoked session: it still counts against the bound, so it goes first.
        Assert.Equal(0L, TestDatabaseDirectory.Scalar(path, $"SELECT count(*) FROM tessera_sessions WHERE id = '{records[1].Id}'"));
        Assert.NotNull(await store.LoadAsync(records[4].Id));
        Assert.True(await store.CreateAsync(NewRecord()));
        await AssertCounterMatches(store, path, 10);
        Assert.Null(await store.LoadAsync(records[4].Id));
        Assert.Equal(0L, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_session_data WHERE session_pk NOT IN (SELECT pk FROM tessera_sessions)"));
    }

    [Fact]
    public async Task AtTheBoundExpiredSessionsGoBeforeLiveOnes()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path, maxSessions: 3, policy: StoreCapacityPolicy.Reject);
        var expiring = NewRecord() with { IdleExpiresAt = _clock.GetUtcNow().AddSeconds(1) };
        await store.CreateAsync(expiring);
        var live = new[] { NewRecord(), NewRecord() };
        foreach (var record in live)
        {
            await store.CreateAsync(record);
        }
        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.True(await store.CreateAsync(NewRecord()));
        await Assert.ThrowsAsync<SessionStoreFullException>(() => store.CreateAsync(NewRecord()).AsTask());

        await AssertCounterMatches(store, path, 3);
        foreach (var record in live)
        {
            Assert.NotNull(await store.LoadAsync(record.Id));
        }
    }

    [Fact]
    public async Task ALoweredBoundIsMetAtTheNextCreate()
    {
        var path = _directory.NewDatabasePath();
        var large = NewStore(path, maxSessions: 50);
        for (var i = 0; i < 20; i++)
        {
            await large.CreateAsync(NewRecord() with { LastSeenAt = _clock.GetUtcNow().AddMilliseconds(i) });
        }

        var small = NewStore(path, maxSessions: 5);
        Assert.True(await small.CreateAsync(NewRecord() with { LastSeenAt = _clock.GetUtcNow().AddMinutes(1) }));

        await AssertCounterMatches(small, path, 5);
    }

    [Fact]
    public async Task ACancelledOperationThrowsAndWritesNothing()
    {
        var path = _directory.NewDatabasePath();
        var store = NewStore(path);
        var record = NewRecord();
        await store.CreateAsync(record);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.CreateAsync(NewRecord(), cancelled.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.ApplyAsync(record.Id, new SessionPatch { Set = new Dictionary<string, string> { ["a"] = "1" } }, cancelled.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.LoadAsync(record.Id, cancelled.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.DeleteExpiredAsync(10, cancelled.Token).AsTask());

        Assert.Empty((await store.LoadAsync(record.Id))!.Data);
        Assert.Equal(1L, await store.CountRecordsAsync());
    }

    [Fact]
    public void InvalidOptionsAreRefusedAtConstruction()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SqliteSessionStore(new SqliteSessionStoreOptions { MaxSessions = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SqliteSessionStore(new SqliteSessionStoreOptions { MaxSessions = -1 }));
        Assert.Throws<ArgumentException>(() => new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = "Data Source=:memory:" }));
        Assert.Throws<ArgumentException>(() => new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = "" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SqliteSessionStore(new SqliteSessionStoreOptions { CommandTimeout = TimeSpan.Zero }));
    }

    [Fact]
    public void TheDefaultsAreTheDocumentedOnes()
    {
        var options = new SqliteSessionStoreOptions();

        Assert.Equal("Data Source=./data/sessions.db", options.ConnectionString);
        Assert.Equal(1_000_000, options.MaxSessions);
        Assert.Equal(StoreCapacityPolicy.EvictLeastRecentlyUsed, options.CapacityPolicy);
        Assert.Equal(TimeSpan.FromSeconds(10), options.CommandTimeout);
    }

    [Fact]
    public async Task TheBuilderRegistersTheStoreOnTheContainersClock()
    {
        var path = _directory.NewDatabasePath();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddTesseraCore().UseSqliteStore($"Data Source={path}", o => o.MaxSessions = 5);
        await using var provider = services.BuildServiceProvider();

        var store = Assert.IsType<SqliteSessionStore>(provider.GetRequiredService<ISessionStore>());
        var record = NewRecord() with { IdleExpiresAt = _clock.GetUtcNow().AddSeconds(1) };
        await store.CreateAsync(record);
        Assert.NotNull(await store.LoadAsync(record.Id));
        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Null(await store.LoadAsync(record.Id));
        Assert.Equal(Path.GetFullPath(path), store.DatabasePath);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ServiceCollection().AddTesseraCore().UseSqliteStore($"Data Source={path}", o => o.MaxSessions = 0));
    }

    [Fact]
    public async Task LogLinesNeverCarrySessionIdsOrCredentialHashes()
    {
        var lines = new ConcurrentQueue<string>();
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new ListLoggerProvider(lines)));
        var store = NewStore(_directory.NewDatabasePath(), maxSessions: 2, logger: factory.CreateLogger<SqliteSessionStore>());
        var records = new[] { NewRecord(), NewRecord(), NewRecord() };
        foreach (var record in records)
        {
            await store.CreateAsync(record); // the third evicts
        }
        await store.ApplyAsync(records[2].Id, new SessionPatch { NewCredentialHash = records[1].CredentialHash }); // a collision

        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            foreach (var record in records)
            {
                Assert.DoesNotContain(record.Id, line, StringComparison.Ordinal);
                Assert.DoesNotContain(Convert.ToHexString(record.CredentialHash), line, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain(Convert.ToBase64String(record.CredentialHash), line, StringComparison.Ordinal);
            }
        }
    }

    private SqliteSessionStore NewStore(string path, int maxSessions = 0, StoreCapacityPolicy policy = StoreCapacityPolicy.EvictLeastRecentlyUsed, ILogger? logger = null)
    {
        var store = new SqliteSessionStore(
            new SqliteSessionStoreOptions
            {
                ConnectionString = $"Data Source={path}",
                MaxSessions = maxSessions > 0 ? maxSessions : SqliteSessionStoreDefaults.MaxSessions,
                // Anonymous records may fill the whole bound: the total bound is under test here, the anonymous one in
                // SqliteAnonymousBoundConformanceTests.
                MaxAnonymousSessions = maxSessions > 0 ? maxSessions : null,
                CapacityPolicy = policy,
            },
            _clock,
            logger);
        lock (_stores)
        {
            _stores.Add(store);
        }
        return store;
    }

    private SessionRecord NewRecord(string? subject = null, Dictionary<string, string>? data = null)
    {
        var now = _clock.GetUtcNow();
        return new SessionRecord
        {
            Id = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_'),
            CredentialHash = RandomNumberGenerator.GetBytes(32),
            Subject = subject,
            Data = data ?? new Dictionary<string, string>(),
            CreatedAt = now,
            LastSeenAt = now,
            IdleExpiresAt = now.AddMinutes(30),
            AbsoluteExpiresAt = now.AddHours(8),
        };
    }

    private static void AssertSameRecord(SessionRecord expected, SessionRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.CredentialHash, actual.CredentialHash);
        Assert.Equal(expected.Subject, actual.Subject);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(expected.LastSeenAt, actual.LastSeenAt);
        Assert.Equal(expected.IdleExpiresAt, actual.IdleExpiresAt);
        Assert.Equal(expected.AbsoluteExpiresAt, actual.AbsoluteExpiresAt);
        Assert.Equal(expected.RevokedAt, actual.RevokedAt);
        Assert.Equal(expected.Metadata, actual.Metadata);
        Assert.Equal(expected.Data.OrderBy(p => p.Key, StringComparer.Ordinal), actual.Data.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    private static async Task AssertCounterMatches(SqliteSessionStore store, string path, long expected)
    {
        Assert.Equal(expected, TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_sessions"));
        Assert.Equal(expected, await store.CountRecordsAsync());
        // The anonymous counter, kept by its own triggers, agrees with the rows too.
        Assert.Equal(
            TestDatabaseDirectory.Scalar(path, "SELECT count(*) FROM tessera_sessions WHERE subject IS NULL"),
            TestDatabaseDirectory.Scalar(path, "SELECT value FROM tessera_counters WHERE name = 'anonymous'"));
    }

    private sealed class ListLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new ListLogger(lines);

        public void Dispose()
        {
        }

        private sealed class ListLogger(ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue(formatter(state, exception) + " " + exception);
        }
    }
}
