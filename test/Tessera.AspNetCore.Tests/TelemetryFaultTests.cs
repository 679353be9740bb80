using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>What telemetry reports when the store fails: the health check and the store error counter.</summary>
public sealed class TelemetryFaultTests
{
    private const string Secret = "Host=db.internal;Username=tessera;Password=hunter2";

    private readonly FakeTimeProvider _clock = new(TestClock.Start);

    private static async Task<HealthReportEntry> CheckAsync(ISessionStore store, TimeSpan? timeout = null)
    {
        var services = new ServiceCollection().AddLogging().AddSingleton(store);
        services.AddHealthChecks().AddTesseraStore(timeout: timeout);
        await using var provider = services.BuildServiceProvider();
        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        return Assert.Single(report.Entries).Value;
    }

    [Fact]
    public async Task AFailingStoreIsUnhealthyWithADescriptionThatNamesNoSecret()
    {
        var store = new FaultySessionStore(new InMemorySessionStore(_clock)) { Failure = () => new InvalidOperationException("Could not connect: " + Secret) };

        var entry = await CheckAsync(store);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal("The session store (FaultySessionStore) failed (InvalidOperationException).", entry.Description);
        Assert.Null(entry.Exception);
        Assert.DoesNotContain("hunter2", entry.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStoreSlowerThanTheTimeoutIsUnhealthy()
    {
        var store = new FaultySessionStore(new InMemorySessionStore(_clock)) { Delay = TimeSpan.FromSeconds(30) };

        var entry = await CheckAsync(store, TimeSpan.FromMilliseconds(100));

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal("The session store (FaultySessionStore) did not answer within 0.1 s.", entry.Description);
    }

    [Fact]
    public async Task AWorkingStoreBehindTheFaultWrapperIsHealthy()
    {
        var entry = await CheckAsync(new FaultySessionStore(new InMemorySessionStore(_clock)));

        Assert.Equal(HealthStatus.Healthy, entry.Status);
    }

    [Fact]
    public async Task AThrowingStoreCallIsCountedByStoreOperationAndErrorTypeAndStillTimed()
    {
        var store = new FaultySessionStore(new InMemorySessionStore(_clock));
        var options = new TesseraOptions();
        options.Keys.Add(SigningKeyRing.GenerateBase64Key());
        using var metrics = new TesseraMetricCollector();
        var manager = new SessionManager(store, Options.Create(options), _clock, null, new TesseraMetrics(metrics.Factory));
        var session = manager.Open(null);
        await session.LoadAsync();
        session.Set("cart", "apple");
        var credential = (await session.CommitAsync()).Credential;
        store.Failure = () => new TimeoutException("Timed out talking to " + Secret);

        // The failure contract: a failed load is no session (and no exception); a failed write throws the typed exception,
        // with the store's own exception inside and neither's message in its own.
        var failedLoad = manager.Open(credential);
        await failedLoad.LoadAsync();
        Assert.True(failedLoad.IsStoreUnavailable);
        Assert.True(failedLoad.IsNew);
        var revoke = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await manager.RevokeAsync("some-id"));
        Assert.IsType<TimeoutException>(revoke.InnerException);
        Assert.Equal("revoke", revoke.Operation);
        Assert.DoesNotContain("hunter2", revoke.Message, StringComparison.Ordinal);

        var errors = metrics.Counter(TesseraMetrics.StoreErrors).Matching(("store", "FaultySessionStore"));
        Assert.Equal(["load_by_credential", "revoke"], errors.Select(e => e.Tags["operation"]));
        Assert.All(errors, e => Assert.Equal("System.TimeoutException", e.Tags["error.type"]));
        Assert.Equal(3, metrics.StoreOperationDuration.Matching(("store", "FaultySessionStore")).Count); // create, and both failures
        Assert.All(metrics.AllTags, tags => Assert.DoesNotContain(tags.Values, v => v is string s && s.Contains("hunter2", StringComparison.Ordinal)));
    }

    [Fact]
    public void InstrumentationLeavesTheRegisteredStoreAsItIsAndUsesTheContainersMeterFactory()
    {
        var store = new InMemorySessionStore(_clock);
        var services = new ServiceCollection().AddMetrics().AddLogging()
            .AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        services.AddTessera(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key())).UseStore(_ => store);
        using var provider = services.BuildServiceProvider();

        var manager = provider.GetRequiredService<SessionManager>();
        var metrics = provider.GetRequiredService<TesseraMetrics>();

        // Capability discovery sees the application's own store, so it answers exactly as the store does.
        Assert.Same(store, manager.Store);
        Assert.Same(store, provider.GetRequiredService<ISessionStore>());
        Assert.IsAssignableFrom<ISessionStoreAdministration>(manager.Store);
        Assert.Equal(TesseraMetrics.MeterName, metrics.Meter.Name);
        Assert.Same(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), metrics.Meter.Scope);
    }
}
