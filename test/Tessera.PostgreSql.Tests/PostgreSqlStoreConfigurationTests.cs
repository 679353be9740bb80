using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Tessera.Testing;
using Tessera.TestServices;

namespace Tessera.PostgreSql.Tests;

/// <summary>
/// <c>UsePostgreSqlStore()</c> takes the container's data source first and the rest from <c>Tessera:PostgreSql</c>,
/// validated at start-up; the code overloads read nothing.
/// </summary>
public sealed class PostgreSqlStoreConfigurationTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    [Fact]
    public async Task TheContainersDataSourceComesFirstAndTheSectionConfiguresTheRest()
    {
        var schema = database.NewSchema();
        using var host = BuildHost(
            new()
            {
                // Unreachable: were it used instead of the container's data source, the migrations at start-up would fail.
                ["Tessera:PostgreSql:ConnectionString"] = "Host=127.0.0.1;Port=1;Database=nowhere;Timeout=2",
                ["Tessera:PostgreSql:Schema"] = schema,
                ["Tessera:PostgreSql:NamingStyle"] = "SnakeCase",
                ["Tessera:PostgreSql:CommandTimeout"] = "00:00:07",
                ["Tessera:PostgreSql:ApplyMigrationsAtStartup"] = "true",
            },
            services => services.AddSingleton(database.DataSource),
            tessera => tessera.UsePostgreSqlStore());
        await host.StartAsync();

        var store = host.Services.GetRequiredService<PostgreSqlSessionStore>();
        Assert.Same(store, host.Services.GetRequiredService<ISessionStore>());
        Assert.Same(database.DataSource, store.DataSource);
        Assert.Equal($"\"{schema}\".\"tessera_session\"", store.SessionsTable);
        Assert.Equal(TimeSpan.FromSeconds(7), host.Services.GetRequiredService<IOptions<PostgreSqlSessionStoreOptions>>().Value.CommandTimeout);
        Assert.True(await store.CreateAsync(NewRecord()));
        Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM {store.SessionsTable}"));
        await host.StopAsync();
    }

    [Fact]
    public async Task WithoutADataSourceInTheContainerTheStoreConnectsWithTheSectionsConnectionString()
    {
        var schema = database.NewSchema();
        using var host = BuildHost(
            new()
            {
                ["Tessera:PostgreSql:ConnectionString"] = database.ConnectionString,
                ["Tessera:PostgreSql:Schema"] = "ignored",
                ["Tessera:PostgreSql:ApplyMigrationsAtStartup"] = "true",
            },
            _ => { },
            tessera => tessera.UsePostgreSqlStore(o => o.Schema = schema)); // code wins over the section
        await host.StartAsync();

        var store = host.Services.GetRequiredService<PostgreSqlSessionStore>();
        Assert.NotSame(database.DataSource, store.DataSource);
        Assert.Equal($"\"{schema}\".\"sessionStore\"", store.SessionsTable);
        Assert.True(await store.CreateAsync(NewRecord()));
        Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM {store.SessionsTable}"));
        await host.StopAsync();
    }

    [Fact]
    public async Task BadValuesInTheSectionFailAtStartUpWithOneMessageNamingEachKey()
    {
        using var host = BuildHost(
            new()
            {
                ["Tessera:PostgreSql:Schema"] = "bad name",
                ["Tessera:PostgreSql:CommandTimeout"] = "00:00:00",
                ["Tessera:PostgreSql:ConnectionString"] = "Host=db;NoSuchKeyword=1",
            },
            services => services.AddSingleton(database.DataSource),
            tessera => tessera.UsePostgreSqlStore());

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(3, failure.Failures.Count());
        Assert.Contains(failure.Failures, f => f.StartsWith("Tessera:PostgreSql:Schema: Schema must be a plain identifier", StringComparison.Ordinal));
        Assert.Contains("Tessera:PostgreSql:CommandTimeout: CommandTimeout must be between one second and one hour.", failure.Failures);
        Assert.Contains(failure.Failures, f => f.StartsWith("Tessera:PostgreSql:ConnectionString: ", StringComparison.Ordinal));
    }

    [Fact]
    public void WithNeitherADataSourceNorAConnectionStringResolvingTheStoreSaysWhatIsMissing()
    {
        using var host = BuildHost([], _ => { }, tessera => tessera.UsePostgreSqlStore());

        var failure = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<ISessionStore>());

        Assert.Contains("Tessera:PostgreSql:ConnectionString", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheCodeOverloadsReadNoConfiguration()
    {
        var schema = database.NewSchema();
        using var host = BuildHost(
            new() { ["Tessera:PostgreSql:Schema"] = "bad name" }, // would fail if it were read
            _ => { },
            tessera => tessera.UsePostgreSqlStore(database.DataSource, o =>
            {
                o.Schema = schema;
                o.ApplyMigrationsAtStartup = true;
            }));
        await host.StartAsync();

        var store = host.Services.GetRequiredService<PostgreSqlSessionStore>();
        Assert.Equal($"\"{schema}\".\"sessionStore\"", store.SessionsTable);
        Assert.True(await store.CreateAsync(NewRecord()));
        await host.StopAsync();
    }

    private IHost BuildHost(Dictionary<string, string?> configuration, Action<IServiceCollection> services, Action<TesseraBuilder> useStore) =>
        StoreConfigurationHost.Build(configuration, _clock, useStore, services);

    private SessionRecord NewRecord() => StoreConfigurationHost.NewRecord(_clock);
}
