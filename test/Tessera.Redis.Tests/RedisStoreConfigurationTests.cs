using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Tessera.Testing;
using Tessera.TestServices;

namespace Tessera.Redis.Tests;

/// <summary><c>UseRedisStore()</c> reads <c>Tessera:Redis</c>, validated at start-up; the code overload reads nothing.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisStoreConfigurationTests(RedisFixture redis) : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly string _prefix = "tessera-test-" + Guid.NewGuid().ToString("N");

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await RedisTestStores.DeleteKeysAsync(await RedisTestStores.ConnectionAsync(redis), _prefix);

    [Fact]
    public async Task UseRedisStoreWithoutArgumentsTakesItsOptionsFromTheTesseraRedisSection()
    {
        using var host = BuildHost(
            new()
            {
                ["Tessera:Redis:ConnectionString"] = redis.Endpoint,
                ["Tessera:Redis:KeyPrefix"] = _prefix,
                ["Tessera:Redis:ExpiryMargin"] = "00:10:00",
                ["Tessera:Redis:MaxAnonymousSessions"] = "1",
                ["Tessera:Redis:CredentialLookupCacheSize"] = "0",
            },
            tessera => tessera.UseRedisStore());
        await host.StartAsync();

        var store = Assert.IsType<RedisSessionStore>(host.Services.GetRequiredService<ISessionStore>());
        Assert.Same(store, host.Services.GetRequiredService<RedisSessionStore>());
        Assert.Equal(_prefix, store.KeyPrefix);
        Assert.Equal(TimeSpan.FromMinutes(10), host.Services.GetRequiredService<IOptions<RedisSessionStoreOptions>>().Value.ExpiryMargin);
        var record = NewRecord();
        Assert.True(await store.CreateAsync(record));
        Assert.NotNull(await store.LoadByCredentialAsync(record.CredentialHash, SessionRoute.Of(record.Id)));
        Assert.Equal(0, store.RememberedCredentials); // the configured cache size
        await Assert.ThrowsAsync<SessionStoreFullException>(async () => await store.CreateAsync(NewRecord())); // the configured anonymous bound
        await host.StopAsync();
    }

    [Fact]
    public async Task CodePassedToUseRedisStoreWinsOverTheSection()
    {
        using var host = BuildHost(
            new() { ["Tessera:Redis:ConnectionString"] = redis.Endpoint, ["Tessera:Redis:KeyPrefix"] = "never-used" },
            tessera => tessera.UseRedisStore(o => o.KeyPrefix = _prefix));
        await host.StartAsync();

        var store = host.Services.GetRequiredService<RedisSessionStore>();
        Assert.Equal(_prefix, store.KeyPrefix);
        Assert.True(await store.CreateAsync(NewRecord()));
        await host.StopAsync();
    }

    [Fact]
    public async Task BadValuesInTheSectionFailAtStartUpWithOneMessageNamingEachKey()
    {
        using var host = BuildHost(
            new()
            {
                ["Tessera:Redis:KeyPrefix"] = "has space",
                ["Tessera:Redis:ExpiryMargin"] = "00:00:00",
                ["Tessera:Redis:CredentialLookupCacheSize"] = "-1",
            },
            tessera => tessera.UseRedisStore());

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(4, failure.Failures.Count());
        Assert.Contains("Tessera:Redis:CredentialLookupCacheSize: CredentialLookupCacheSize must be between 0 and 10,000,000.", failure.Failures);
        Assert.Contains(failure.Failures, f => f.StartsWith("Tessera:Redis:KeyPrefix: KeyPrefix must be 1 to", StringComparison.Ordinal));
        Assert.Contains("Tessera:Redis:ExpiryMargin: ExpiryMargin must be between one second and 30 days.", failure.Failures);
        Assert.Contains(failure.Failures, f => f.StartsWith("Tessera:Redis:ConnectionString: ConnectionString is required", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUnusableConnectionStringInTheSectionFailsAtStartUpWithoutQuotingIt()
    {
        using var host = BuildHost(
            new() { ["Tessera:Redis:ConnectionString"] = "localhost:6379,password=hunter2,nosuchoption=1" },
            tessera => tessera.UseRedisStore());

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        var message = Assert.Single(failure.Failures);
        Assert.StartsWith("Tessera:Redis:ConnectionString: ", message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheCodeOverloadReadsNoConfiguration()
    {
        using var host = BuildHost(
            new() { ["Tessera:Redis:KeyPrefix"] = "has space" }, // would fail if it were read
            tessera => tessera.UseRedisStore(redis.Endpoint, o => o.KeyPrefix = _prefix));
        await host.StartAsync();

        var store = host.Services.GetRequiredService<RedisSessionStore>();
        Assert.Equal(_prefix, store.KeyPrefix);
        Assert.True(await store.CreateAsync(NewRecord()));
        await host.StopAsync();
    }

    private IHost BuildHost(Dictionary<string, string?> configuration, Action<TesseraBuilder> useStore) =>
        StoreConfigurationHost.Build(configuration, _clock, useStore);

    private SessionRecord NewRecord() => StoreConfigurationHost.NewRecord(_clock);
}
