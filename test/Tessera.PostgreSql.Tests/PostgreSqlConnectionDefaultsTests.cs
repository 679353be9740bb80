using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Tessera.NearCache;
using Tessera.Testing;
using Tessera.TestServices;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// The connection defaults of a data source the store builds from a connection string (no reset on close, a pool sized
/// to the machine, automatic preparation under multiplexing), counted on the server with <c>pg_stat_statements</c>, and
/// the near cache on a multiplexing store.
/// </summary>
public sealed class PostgreSqlConnectionDefaultsTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    // What Npgsql sends before a pooled connection's next command when it resets the connection and the connection has
    // prepared statements (instead of DISCARD ALL).
    private static readonly string[] ResetStatements =
        ["SET SESSION AUTHORIZATION DEFAULT", "RESET ALL", "UNLISTEN *", "SELECT pg_advisory_unlock_all()", "CLOSE ALL", "DISCARD TEMP", "DISCARD SEQUENCES"];

    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    [Fact]
    public void AConnectionStringThatNamesNoneGetsNoResetOnCloseAndAPoolSizedToTheMachine()
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgreSqlSessionStore.WithStoreDefaults("Host=db.example;Username=app;Password=secret"));

        Assert.True(tuned.NoResetOnClose);
        Assert.Equal(Math.Max(10, 2 * Environment.ProcessorCount), tuned.MaxPoolSize);
        Assert.Equal(PostgreSqlSessionStoreDefaults.MaxPoolSize, tuned.MaxPoolSize);
        Assert.False(tuned.Multiplexing);
        Assert.Equal(0, tuned.MaxAutoPrepare);
        Assert.Equal("secret", tuned.Password);
    }

    [Fact]
    public void WhatTheConnectionStringNamesItselfIsKeptWhicheverSpellingItUses()
    {
        var tuned = new NpgsqlConnectionStringBuilder(PostgreSqlSessionStore.WithStoreDefaults(
            "Host=db.example;NoResetOnClose=false;maxpoolsize=7;multiplexing=true;Max Auto Prepare=5"));

        Assert.False(tuned.NoResetOnClose);
        Assert.Equal(7, tuned.MaxPoolSize);
        Assert.Equal(5, tuned.MaxAutoPrepare);
        Assert.Equal(PostgreSqlSessionStoreDefaults.MaxAutoPrepare,
            new NpgsqlConnectionStringBuilder(PostgreSqlSessionStore.WithStoreDefaults("Host=db.example;Multiplexing=true")).MaxAutoPrepare);
    }

    [Fact]
    public async Task TheStoresOwnConnectionsRunGenericPlansUnlessTheStringSetsThePlanCacheMode()
    {
        await using var own = new PostgreSqlSessionStore(new PostgreSqlSessionStoreOptions { ConnectionString = database.ConnectionString, Schema = database.NewSchema() }, _clock);
        var chosen = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Options = "-c plan_cache_mode=force_custom_plan" }.ConnectionString;
        await using var named = new PostgreSqlSessionStore(new PostgreSqlSessionStoreOptions { ConnectionString = chosen, Schema = database.NewSchema() }, _clock);
        await using var given = new PostgreSqlSessionStore(database.DataSource, new PostgreSqlSessionStoreOptions { Schema = database.NewSchema() }, _clock);

        Assert.Equal("force_generic_plan", await PlanCacheModeAsync(own.DataSource));
        Assert.Equal("force_generic_plan", await PlanCacheModeAsync(own.DataSource)); // a pooled connection keeps it
        Assert.Equal("force_custom_plan", await PlanCacheModeAsync(named.DataSource));
        Assert.Equal("auto", await PlanCacheModeAsync(given.DataSource));
    }

    [Fact]
    public async Task ReadsOnTheStoresOwnDataSourceSendNoConnectionResetStatements()
    {
        var counts = await CountServerStatementsAsync(ConnectionStringWithoutPoolSize(), reads: 20);

        Assert.All(ResetStatements, statement => Assert.DoesNotContain(statement, counts.Keys));
        Assert.True(counts.Values.Max() >= 20, "the reads themselves are counted: " + string.Join(", ", counts));
    }

    [Fact]
    public async Task AConnectionStringThatAsksForResetsStillGetsThem()
    {
        // The other side of the test above: the count sees resets where they are sent.
        var counts = await CountServerStatementsAsync(ConnectionStringWithoutPoolSize() + ";No Reset On Close=false", reads: 20);

        Assert.All(ResetStatements, statement => Assert.True(counts.GetValueOrDefault(statement) >= 10, $"{statement}: {counts.GetValueOrDefault(statement)}"));
    }

    [Fact]
    public async Task AMultiplexingStoreBuiltFromAConnectionStringServesSessionsAndItsNearCacheHearsInvalidations()
    {
        await using var store = new PostgreSqlSessionStore(
            new PostgreSqlSessionStoreOptions { ConnectionString = database.ConnectionString + ";Multiplexing=true", Schema = database.NewSchema() }, _clock);
        await store.EnsureSchemaAsync();
        var record = StoreConfigurationHost.NewRecord(_clock);
        Assert.True(await store.CreateAsync(record));
        Assert.NotNull(await store.LoadByCredentialAsync(record.CredentialHash));

        await using var channel = new ObservedInvalidationChannel(new PostgreSqlSessionInvalidationChannel(store));
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await channel.StartAsync(new ListeningSignal(listening), TestContext.Current.CancellationToken);
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await channel.PublishAsync(record.Id, TestContext.Current.CancellationToken);

        await channel.WaitForAsync(record.Id, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void ANearCacheOnAMultiplexingDataSourceTheAppBuiltNeedsAListenConnectionString()
    {
        using var dataSource = NpgsqlDataSource.Create(database.ConnectionString + ";Multiplexing=true");
        using var store = new PostgreSqlSessionStore(dataSource, new PostgreSqlSessionStoreOptions { Schema = database.NewSchema() }, _clock);

        var refused = Assert.Throws<InvalidOperationException>(() => new PostgreSqlSessionInvalidationChannel(store));

        Assert.Contains(nameof(PostgreSqlSessionStoreOptions.ListenConnectionString), refused.Message, StringComparison.Ordinal);
    }

    private string ConnectionStringWithoutPoolSize()
    {
        var builder = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        builder.Remove("Maximum Pool Size");
        return builder.ConnectionString;
    }

    private static async Task<string> PlanCacheModeAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("SHOW plan_cache_mode");
        return (string)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    // Counts what the server ran in this database (pg_stat_statements, by statement text) while a store built from the
    // connection string reads one session `reads` times, one read after another (each on a connection back from the pool).
    private async Task<Dictionary<string, long>> CountServerStatementsAsync(string connectionString, int reads)
    {
        await database.ExecuteAsync("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
        await using var store = new PostgreSqlSessionStore(new PostgreSqlSessionStoreOptions { ConnectionString = connectionString, Schema = database.NewSchema() }, _clock);
        await store.EnsureSchemaAsync();
        var record = StoreConfigurationHost.NewRecord(_clock);
        Assert.True(await store.CreateAsync(record));
        // Another test class may reset the statistics at the same time; each class has a database of its own, so what
        // is counted here is only this test's (the classes of this fixture run one test at a time).
        await database.ExecuteAsync("SELECT pg_stat_statements_reset()");
        for (var i = 0; i < reads; i++)
        {
            Assert.NotNull(await store.LoadByCredentialAsync(record.CredentialHash));
        }
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var command = database.DataSource.CreateCommand(
            "SELECT query, calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            counts[reader.GetString(0)] = counts.GetValueOrDefault(reader.GetString(0)) + reader.GetInt64(1);
        }
        return counts;
    }

    private sealed class ListeningSignal(TaskCompletionSource listening) : ISessionInvalidationListener
    {
        public void OnInvalidated(string sessionId)
        {
        }

        public void OnInvalidatedAll()
        {
        }

        public void OnListening(bool isListening)
        {
            if (isListening)
            {
                listening.TrySetResult();
            }
        }
    }
}
