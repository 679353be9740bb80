using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Tessera.Testing;
using Tessera.TestServices;

namespace Tessera.Sqlite.Tests;

/// <summary><c>UseSqliteStore()</c> reads <c>Tessera:Sqlite</c>, validated at start-up; the code overload reads nothing.</summary>
public sealed class SqliteStoreConfigurationTests : IDisposable
{
    private readonly TestDatabaseDirectory _directory = new();
    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task UseSqliteStoreWithoutArgumentsTakesItsOptionsFromTheTesseraSqliteSection()
    {
        var path = _directory.NewDatabasePath();
        using var host = BuildHost(
            new()
            {
                ["Tessera:Sqlite:ConnectionString"] = $"Data Source={path}",
                ["Tessera:Sqlite:MaxSessions"] = "7",
                ["Tessera:Sqlite:MaxAnonymousSessions"] = "1",
                ["Tessera:Sqlite:CapacityPolicy"] = "Reject",
                ["Tessera:Sqlite:CommandTimeout"] = "00:00:05",
            },
            tessera => tessera.UseSqliteStore());
        await host.StartAsync();

        var options = host.Services.GetRequiredService<IOptions<SqliteSessionStoreOptions>>().Value;
        Assert.Equal((7, 1, StoreCapacityPolicy.Reject, TimeSpan.FromSeconds(5)), (options.MaxSessions, options.MaxAnonymousSessions, options.CapacityPolicy, options.CommandTimeout));
        var store = Assert.IsType<SqliteSessionStore>(host.Services.GetRequiredService<ISessionStore>());
        Assert.Equal(Path.GetFullPath(path), store.DatabasePath);
        Assert.True(await store.CreateAsync(NewRecord()));
        await Assert.ThrowsAsync<SessionStoreFullException>(async () => await store.CreateAsync(NewRecord())); // the configured anonymous bound, rejected
        await host.StopAsync();
    }

    [Fact]
    public async Task CodePassedToUseSqliteStoreWinsOverTheSection()
    {
        var path = _directory.NewDatabasePath();
        using var host = BuildHost(
            new() { ["Tessera:Sqlite:ConnectionString"] = "Data Source=./never-used.db", ["Tessera:Sqlite:MaxSessions"] = "7" },
            tessera => tessera.UseSqliteStore(o => o.ConnectionString = $"Data Source={path}"));
        await host.StartAsync();

        var store = Assert.IsType<SqliteSessionStore>(host.Services.GetRequiredService<ISessionStore>());
        Assert.Equal(Path.GetFullPath(path), store.DatabasePath);
        Assert.Equal(7, host.Services.GetRequiredService<IOptions<SqliteSessionStoreOptions>>().Value.MaxSessions);
        await host.StopAsync();
    }

    [Fact]
    public async Task BadValuesInTheSectionFailAtStartUpWithOneMessageNamingEachKey()
    {
        using var host = BuildHost(
            new()
            {
                ["Tessera:Sqlite:ConnectionString"] = "Data Source=:memory:",
                ["Tessera:Sqlite:MaxSessions"] = "0",
                ["Tessera:Sqlite:CommandTimeout"] = "00:00:00.5",
            },
            tessera => tessera.UseSqliteStore());

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(3, failure.Failures.Count());
        Assert.Contains(failure.Failures, f => f.StartsWith("Tessera:Sqlite:ConnectionString: ", StringComparison.Ordinal) && f.Contains("in-memory", StringComparison.Ordinal));
        Assert.Contains("Tessera:Sqlite:MaxSessions: MaxSessions must be at least 1.", failure.Failures);
        Assert.Contains(failure.Failures, f => f.StartsWith("Tessera:Sqlite:CommandTimeout: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheCodeOverloadReadsNoConfigurationAndStillValidatesAtOnce()
    {
        var path = _directory.NewDatabasePath();
        using var host = BuildHost(
            new() { ["Tessera:Sqlite:MaxSessions"] = "0" }, // would fail if it were read
            tessera => tessera.UseSqliteStore($"Data Source={path}", o => o.MaxAnonymousSessions = 1));
        await host.StartAsync();

        var store = Assert.IsType<SqliteSessionStore>(host.Services.GetRequiredService<ISessionStore>());
        Assert.Equal(Path.GetFullPath(path), store.DatabasePath);
        Assert.True(await store.CreateAsync(NewRecord()));
        await host.StopAsync();
        Assert.Throws<ArgumentOutOfRangeException>(() => BuildHost([], tessera => tessera.UseSqliteStore($"Data Source={path}", o => o.MaxSessions = 0)));
    }

    private IHost BuildHost(Dictionary<string, string?> configuration, Action<TesseraBuilder> useStore) =>
        StoreConfigurationHost.Build(configuration, _clock, useStore);

    private SessionRecord NewRecord() => StoreConfigurationHost.NewRecord(_clock);
}
